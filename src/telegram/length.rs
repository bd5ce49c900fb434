//! Telegram counts the length of a message's text and a caption in UTF-16
//! code units (4096 and 1024), not in characters: an emoji or a rare CJK
//! character outside the Basic Multilingual Plane is two units. Every text
//! the bot sends passes through [`fit`] at the Bot API boundary.

/// The most UTF-16 units of a message's text.
pub const MAX_TEXT_UNITS: usize = 4096;
/// The most UTF-16 units of a caption.
pub const MAX_CAPTION_UNITS: usize = 1024;

/// `text` within `max` UTF-16 code units: unchanged when it fits, else cut
/// at a character boundary (never inside a surrogate pair) with an
/// ellipsis, the whole within `max`.
pub fn fit(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.encode_utf16().count() <= max {
        return std::borrow::Cow::Borrowed(text);
    }
    let budget = max.saturating_sub(1); // the ellipsis is one unit
    let mut used = 0;
    let mut end = 0;
    for (at, c) in text.char_indices() {
        if used + c.len_utf16() > budget {
            break;
        }
        used += c.len_utf16();
        end = at + c.len_utf8();
    }
    let mut out = text[..end].to_owned();
    if max > 0 {
        out.push('…');
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn counts_units_not_characters() {
        assert_eq!(fit("abc", 3), "abc");
        assert_eq!(fit("abcd", 3), "ab…");
        // 😀 is two units: three of them are six
        assert_eq!(fit("😀😀😀", 6), "😀😀😀");
        assert_eq!(fit("😀😀😀", 5), "😀😀…");
        // never half a pair: 4 units leave room for one emoji and the ellipsis
        assert_eq!(fit("😀😀😀", 4), "😀…");
        assert_eq!(fit("a😀", 2), "a…");
    }

    proptest! {
        #[test]
        fn always_fits_and_keeps_a_prefix(text in "\\PC{0,60}", max in 1usize..50) {
            let out = fit(&text, max);
            prop_assert!(out.encode_utf16().count() <= max);
            let kept = out.strip_suffix('…').unwrap_or(&out);
            prop_assert!(text.starts_with(kept));
        }
    }
}
