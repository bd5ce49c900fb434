//! Server-rendered HTML: escaping and the page frame. No scripts.

use std::fmt::Write as _;

use crate::texts::ConsoleTexts;

use super::auth::Session;

/// `text` safe inside HTML text and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` as a URL query value.
pub fn query_value(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}\
header{background:#20304a;color:#fff;padding:.6em 1em;display:flex;gap:1.2em;align-items:center}\
header a{color:#fff}header form{margin-left:auto}main{padding:1em}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}.flash{background:#fff3c4;padding:.5em 1em;border:1px solid #e0c060}.error{background:#fde2e2;border-color:#d08080}\
pre{background:#f6f6f6;padding:.6em}video{max-width:360px}";

/// A whole page: the header (with navigation and sign-out when signed in)
/// and `body`.
pub fn page(texts: &ConsoleTexts, title: &str, session: Option<&Session>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(session) = session {
        let _ = write!(
            nav,
            "<a href=\"/\">{}</a><a href=\"/assets\">{}</a><span>{} {}</span>\
             <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">{}</button></form>",
            esc(texts.overview),
            esc(texts.assets),
            esc(texts.signed_in_as),
            esc(session.name.as_str()),
            esc(&session.csrf),
            esc(texts.sign_out)
        );
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title} — {app}</title>\
         <style>{STYLE}</style></head><body><header><strong>{app}</strong>{nav}</header><main><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
        app = esc(texts.title),
    )
}

/// A table with a header row; each row's cells are HTML already.
pub fn table(headers: &[&str], rows: &[Vec<String>], empty: &str) -> String {
    if rows.is_empty() {
        return format!("<p>{}</p>", esc(empty));
    }
    let mut out = String::from("<table><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<script>\"a\" & 'b'</script>"), "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;");
        assert_eq!(query_value("zoë & co"), "zo%C3%AB%20%26%20co");
    }
}
