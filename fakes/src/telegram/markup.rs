//! `parse_mode` handling: turns marked-up text into the plain text a user
//! would see, and rejects markup the real Bot API rejects.
//!
//! The three parsers follow the structure of tdlib's `parse_markdown_v2`,
//! `parse_html` and `parse_markdown` (the code behind the Bot API server),
//! including their error messages, so a bot that forgets to escape a `.` in
//! MarkdownV2 or a `<` in HTML fails here exactly as it would in production.
//! Entity *semantics* (URLs, custom emoji ids, ...) are not checked.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    MarkdownV2,
    Html,
    Markdown,
}

/// `parse_mode` values are case-insensitive in the Bot API.
pub(crate) fn mode(s: &str) -> Option<Mode> {
    match s.to_ascii_lowercase().as_str() {
        "markdownv2" => Some(Mode::MarkdownV2),
        "html" => Some(Mode::Html),
        "markdown" => Some(Mode::Markdown),
        _ => None,
    }
}

/// Parses `text` in `mode`; `Err` holds the part after
/// "Bad Request: can't parse entities: ".
pub(crate) fn to_plain(text: &str, mode: Mode) -> Result<String, String> {
    match mode {
        Mode::MarkdownV2 => markdown_v2(text),
        Mode::Html => html(text),
        Mode::Markdown => markdown(text),
    }
}

pub(crate) fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn finish(out: Vec<u8>) -> String {
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ent {
    Bold,
    Italic,
    Underline,
    Strike,
    Spoiler,
    Code,
    Pre,
    TextUrl,
    CustomEmoji,
}

impl Ent {
    fn name(self) -> &'static str {
        match self {
            Ent::Bold => "Bold",
            Ent::Italic => "Italic",
            Ent::Underline => "Underline",
            Ent::Strike => "Strikethrough",
            Ent::Spoiler => "Spoiler",
            Ent::Code => "Code",
            Ent::Pre => "Pre",
            Ent::TextUrl => "TextUrl",
            Ent::CustomEmoji => "CustomEmoji",
        }
    }
}

fn reserved_error(c: u8) -> String {
    format!("Character '{}' is reserved and must be escaped with the preceding '\\'", c as char)
}

fn markdown_v2(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let escapable = |c: u8| (1..=126).contains(&c);
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let mut stack: Vec<(Ent, usize)> = Vec::new();
    let mut quote_line = false;
    let mut i = 0;
    while i < n {
        let c = b[i];
        let in_code = matches!(stack.last(), Some((Ent::Code | Ent::Pre, _)));
        if !in_code && (i == 0 || b[i - 1] == b'\n') {
            // Block quotation markers: ">" or "**>" (expandable) at a line start.
            if c == b'>' {
                quote_line = true;
                i += 1;
                continue;
            }
            if b[i..].starts_with(b"**>") {
                quote_line = true;
                i += 3;
                continue;
            }
            quote_line = false;
        }
        if c == b'\\' && escapable(at(i + 1)) {
            out.push(b[i + 1]);
            i += 2;
            continue;
        }
        let reserved: &[u8] = if in_code { b"`" } else { b"_*[]()~`>#+-=|{}.!" };
        if !reserved.contains(&c) {
            out.push(c);
            i += 1;
            continue;
        }
        // The "||" expandability mark at the end of an expandable block quotation.
        if quote_line
            && c == b'|'
            && at(i + 1) == b'|'
            && matches!(at(i + 2), 0 | b'\n')
            && !stack.iter().any(|(e, _)| *e == Ent::Spoiler)
        {
            i += 2;
            continue;
        }
        let is_end = match stack.last() {
            None => false,
            Some((e, _)) => match e {
                Ent::Bold => c == b'*',
                Ent::Italic => c == b'_' && at(i + 1) != b'_',
                Ent::Code => c == b'`',
                Ent::Pre => c == b'`' && at(i + 1) == b'`' && at(i + 2) == b'`',
                Ent::TextUrl | Ent::CustomEmoji => c == b']',
                Ent::Underline => c == b'_' && at(i + 1) == b'_',
                Ent::Strike => c == b'~',
                Ent::Spoiler => c == b'|' && at(i + 1) == b'|',
            },
        };
        if !is_end {
            let start = i;
            let (ent, next) = match c {
                b'_' if at(i + 1) == b'_' => (Ent::Underline, i + 2),
                b'_' => (Ent::Italic, i + 1),
                b'*' => (Ent::Bold, i + 1),
                b'~' => (Ent::Strike, i + 1),
                b'|' if at(i + 1) == b'|' => (Ent::Spoiler, i + 2),
                b'[' => (Ent::TextUrl, i + 1),
                b'!' if at(i + 1) == b'[' => (Ent::CustomEmoji, i + 2),
                b'`' if at(i + 1) == b'`' && at(i + 2) == b'`' => {
                    let mut j = i + 3;
                    let mut lang_end = j;
                    while lang_end < n && !is_space(b[lang_end]) && b[lang_end] != b'`' {
                        lang_end += 1;
                    }
                    if j != lang_end && lang_end < n && b[lang_end] != b'`' {
                        j = lang_end;
                    }
                    // one new line right after the opening ``` is skipped
                    if matches!(at(j), b'\n' | b'\r') {
                        if matches!(at(j + 1), b'\n' | b'\r') && at(j) != at(j + 1) {
                            j += 2;
                        } else {
                            j += 1;
                        }
                    }
                    (Ent::Pre, j)
                }
                b'`' => (Ent::Code, i + 1),
                _ => return Err(reserved_error(c)),
            };
            stack.push((ent, start));
            i = next;
        } else {
            let Some((ent, _)) = stack.pop() else {
                return Err(reserved_error(c));
            };
            match ent {
                Ent::Underline | Ent::Spoiler => i += 2,
                Ent::Pre => i += 3,
                Ent::TextUrl | Ent::CustomEmoji => {
                    if at(i + 1) == b'(' {
                        let url_begin = i + 2;
                        let mut j = url_begin;
                        while j < n && b[j] != b')' {
                            if b[j] == b'\\' && escapable(at(j + 1)) {
                                j += 2;
                            } else {
                                j += 1;
                            }
                        }
                        if j >= n {
                            return Err(format!("Can't find end of a URL at byte offset {url_begin}"));
                        }
                        i = j + 1;
                    } else if ent == Ent::CustomEmoji {
                        return Err("Custom emoji entity must contain a tg://emoji URL".into());
                    } else {
                        i += 1;
                    }
                }
                _ => i += 1,
            }
        }
    }
    if let Some((e, off)) = stack.last() {
        return Err(format!("Can't find end of {} entity at byte offset {off}", e.name()));
    }
    Ok(finish(out))
}

const HTML_TAGS: &[&str] = &[
    "a",
    "b",
    "strong",
    "i",
    "em",
    "s",
    "strike",
    "del",
    "u",
    "ins",
    "tg-spoiler",
    "tg-emoji",
    "tg-time",
    "span",
    "pre",
    "code",
    "blockquote",
];

/// Decodes `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#NN;` and `&#xHH;` (the `;` is
/// optional, as in tdlib). `b` starts at the `&`.
fn html_entity(b: &[u8]) -> Option<(char, usize)> {
    let mut j = 1;
    let code: u32;
    if b.get(1) == Some(&b'#') {
        let hex = matches!(b.get(2), Some(b'x' | b'X'));
        j = if hex { 3 } else { 2 };
        let digits_start = j;
        while j < b.len() && j - digits_start < 8 && (if hex { b[j].is_ascii_hexdigit() } else { b[j].is_ascii_digit() }) {
            j += 1;
        }
        if j == digits_start {
            return None;
        }
        let digits = std::str::from_utf8(&b[digits_start..j]).ok()?;
        code = u32::from_str_radix(digits, if hex { 16 } else { 10 }).ok()?;
        if code == 0 || code >= 0x10ffff {
            return None;
        }
    } else {
        while j < b.len() && b[j].is_ascii_alphabetic() {
            j += 1;
        }
        code = match &b[1..j] {
            b"lt" => '<' as u32,
            b"gt" => '>' as u32,
            b"amp" => '&' as u32,
            b"quot" => '"' as u32,
            _ => return None,
        };
    }
    if b.get(j) == Some(&b';') {
        j += 1;
    }
    Some((char::from_u32(code)?, j))
}

fn html(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut out = String::with_capacity(n);
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    while i < n {
        let c = b[i];
        if c == b'&' {
            if let Some((ch, len)) = html_entity(&b[i..]) {
                out.push(ch);
                i += len;
            } else {
                out.push('&');
                i += 1;
            }
            continue;
        }
        if c != b'<' {
            let end = b[i..].iter().position(|&x| x == b'<' || x == b'&').map_or(n, |p| i + p);
            out.push_str(&lossy(&b[i..end]));
            i = end;
            continue;
        }
        let begin = i;
        i += 1;
        let unclosed = || format!("Unclosed start tag at byte offset {begin}");
        if at(i) != b'/' {
            let name_start = i;
            while i < n && !is_space(b[i]) && b[i] != b'>' {
                i += 1;
            }
            if i >= n {
                return Err(unclosed());
            }
            let tag = lossy(&b[name_start..i]).to_ascii_lowercase();
            if !HTML_TAGS.contains(&tag.as_str()) {
                return Err(format!("Unsupported start tag \"{tag}\" at byte offset {begin}"));
            }
            let mut class: Option<String> = None;
            loop {
                while i < n && is_space(b[i]) {
                    i += 1;
                }
                if i >= n {
                    return Err(unclosed());
                }
                if b[i] == b'>' {
                    break;
                }
                let attr_start = i;
                while i < n && !is_space(b[i]) && b[i] != b'=' && b[i] != b'>' {
                    i += 1;
                }
                let attr = lossy(&b[attr_start..i]).to_ascii_lowercase();
                if attr.is_empty() {
                    return Err(format!("Empty attribute name in the tag \"{tag}\" at byte offset {begin}"));
                }
                while i < n && is_space(b[i]) {
                    i += 1;
                }
                if at(i) != b'=' {
                    return Err(format!(
                        "Expected equal sign in declaration of an attribute of the tag \"{tag}\" at byte offset {begin}"
                    ));
                }
                i += 1;
                while i < n && is_space(b[i]) {
                    i += 1;
                }
                if i >= n {
                    return Err(unclosed());
                }
                let value;
                if b[i] != b'\'' && b[i] != b'"' {
                    let token_start = i;
                    while i < n && (b[i].is_ascii_alphanumeric() || b[i] == b'.' || b[i] == b'-') {
                        i += 1;
                    }
                    value = lossy(&b[token_start..i]).to_ascii_lowercase();
                    if i < n && !is_space(b[i]) && b[i] != b'>' {
                        return Err(format!("Unexpected end of name token at byte offset {token_start}"));
                    }
                } else {
                    let quote = b[i];
                    i += 1;
                    let value_start = i;
                    while i < n && b[i] != quote {
                        i += 1;
                    }
                    value = lossy(&b[value_start..i]);
                    if i < n {
                        i += 1;
                    }
                }
                if i >= n {
                    return Err(unclosed());
                }
                if attr == "class" {
                    class = Some(value);
                }
            }
            i += 1; // '>'
            if tag == "span" && class.as_deref() != Some("tg-spoiler") {
                return Err(format!("Tag \"span\" must have class \"tg-spoiler\" at byte offset {begin}"));
            }
            stack.push(tag);
        } else {
            let Some(open) = stack.pop() else {
                return Err(format!("Unexpected end tag at byte offset {begin}"));
            };
            i += 1;
            let name_start = i;
            while i < n && !is_space(b[i]) && b[i] != b'>' {
                i += 1;
            }
            let end_name = lossy(&b[name_start..i]).to_ascii_lowercase();
            while i < n && is_space(b[i]) {
                i += 1;
            }
            if at(i) != b'>' {
                return Err(format!("Unclosed end tag at byte offset {begin}"));
            }
            i += 1;
            if !end_name.is_empty() && end_name != open {
                return Err(format!("Unmatched end tag at byte offset {begin}, expected \"</{open}>\", found \"</{end_name}>\""));
            }
        }
    }
    if let Some(tag) = stack.last() {
        return Err(format!("Can't find end tag corresponding to start tag \"{tag}\""));
    }
    Ok(out)
}

/// Legacy "Markdown" mode.
fn markdown(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let n = b.len();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let c = b[i];
        if c == b'\\' && matches!(at(i + 1), b'_' | b'*' | b'`' | b'[') {
            out.push(b[i + 1]);
            i += 2;
            continue;
        }
        if !matches!(c, b'_' | b'*' | b'`' | b'[') {
            out.push(c);
            i += 1;
            continue;
        }
        let begin = i;
        let end_ch = if c == b'[' { b']' } else { c };
        i += 1;
        let mut is_pre = false;
        if c == b'`' && at(i) == b'`' && at(i + 1) == b'`' {
            i += 2;
            is_pre = true;
            let mut lang_end = i;
            while lang_end < n && !is_space(b[lang_end]) && b[lang_end] != b'`' {
                lang_end += 1;
            }
            if i != lang_end && lang_end < n && b[lang_end] != b'`' {
                i = lang_end;
            }
            if matches!(at(i), b'\n' | b'\r') {
                if matches!(at(i + 1), b'\n' | b'\r') && at(i) != at(i + 1) {
                    i += 2;
                } else {
                    i += 1;
                }
            }
        }
        while i < n && (b[i] != end_ch || (is_pre && !(at(i + 1) == b'`' && at(i + 2) == b'`'))) {
            out.push(b[i]);
            i += 1;
        }
        if i >= n {
            return Err(format!("Can't find end of the entity starting at byte offset {begin}"));
        }
        if is_pre {
            i += 2;
        }
        if c == b'[' && at(i + 1) == b'(' {
            i += 2;
            while i < n && b[i] != b')' {
                i += 1;
            }
        }
        i += 1;
    }
    Ok(finish(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(s: &str) -> Result<String, String> {
        to_plain(s, Mode::MarkdownV2)
    }

    #[test]
    fn markdown_v2_accepts_valid_markup() {
        assert_eq!(v2("*bold \\*text*").unwrap(), "bold *text");
        assert_eq!(v2("_it_ __u__ ~s~ ||sp||").unwrap(), "it u s sp");
        assert_eq!(v2("[link](http://example.com/a\\)b)").unwrap(), "link");
        assert_eq!(v2("`co.de` done\\!").unwrap(), "co.de done!");
        assert_eq!(v2("```rust\nlet x = 1;\n```").unwrap(), "let x = 1;\n");
        assert_eq!(v2(">quote\n>more").unwrap(), "quote\nmore");
        assert_eq!(v2("**>exp\n>end||").unwrap(), "exp\nend");
        assert_eq!(v2("ünïcödé 🎬 \\- ok").unwrap(), "ünïcödé 🎬 - ok");
    }

    #[test]
    fn markdown_v2_rejects_unescaped() {
        assert_eq!(v2("Done.").unwrap_err(), "Character '.' is reserved and must be escaped with the preceding '\\'");
        assert_eq!(v2("a-b").unwrap_err(), reserved_error(b'-'));
        assert_eq!(v2("*bold").unwrap_err(), "Can't find end of Bold entity at byte offset 0");
        assert!(v2("[x](http://a").unwrap_err().starts_with("Can't find end of a URL"));
        assert_eq!(v2("a > b").unwrap_err(), reserved_error(b'>'));
    }

    #[test]
    fn html_modes() {
        let h = |s: &str| to_plain(s, Mode::Html);
        assert_eq!(h("<b>bold</b> &lt;3 &amp; <a href=\"http://x\">l</a>").unwrap(), "bold <3 & l");
        assert_eq!(h("<span class=\"tg-spoiler\">s</span> a & b > c").unwrap(), "s a & b > c");
        assert_eq!(h("a < b").unwrap_err(), "Unsupported start tag \"\" at byte offset 2");
        assert_eq!(h("<b>x").unwrap_err(), "Can't find end tag corresponding to start tag \"b\"");
        assert!(h("<b>x</i>").unwrap_err().starts_with("Unmatched end tag"));
        assert!(h("<div>x</div>").unwrap_err().starts_with("Unsupported start tag \"div\""));
        assert!(h("<span>x</span>").unwrap_err().contains("tg-spoiler"));
    }

    #[test]
    fn legacy_markdown() {
        let m = |s: &str| to_plain(s, Mode::Markdown);
        assert_eq!(m("*b* _i_ `c` [l](http://x) a.b-c!").unwrap(), "b i c l a.b-c!");
        assert!(m("snake_case").is_err());
        assert_eq!(m("snake\\_case").unwrap(), "snake_case");
    }
}
