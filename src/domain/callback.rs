//! Inline button presses: what a button's `callback_data` says, typed.
//! Services put it on the buttons they send; the bot's update handler
//! parses it back when a button is pressed.
//! Each variant has a short prefix; the encoded data is at most 64 bytes
//! (Telegram's limit), and anything else parses to `None`.

use super::AssetId;

/// What an inline button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// "➕ Extend" under a video: continue that asset's video.
    Extend(AssetId),
    /// Buy the package of `stars` Stars for `credits` credits: sends its invoice.
    Buy { stars: u32, credits: i64 },
}

/// Telegram's limit on `callback_data`.
pub const MAX_CALLBACK_BYTES: usize = 64;

impl CallbackData {
    /// The `callback_data` of a button (at most 64 bytes).
    pub fn encode(&self) -> String {
        match self {
            CallbackData::Extend(asset) => format!("x:{}", asset.0),
            CallbackData::Buy { stars, credits } => format!("b:{stars}:{credits}"),
        }
    }

    /// Reads a button's `callback_data`; `None` for anything this bot did not encode.
    pub fn parse(data: &str) -> Option<Self> {
        if data.len() > MAX_CALLBACK_BYTES {
            return None;
        }
        let (prefix, rest) = data.split_once(':')?;
        match prefix {
            "x" => rest.parse::<i64>().ok().filter(|id| *id > 0).map(|id| CallbackData::Extend(AssetId(id))),
            "b" => {
                let (stars, credits) = rest.split_once(':')?;
                Some(CallbackData::Buy { stars: stars.parse().ok()?, credits: credits.parse().ok()? })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn round_trips_and_fits_telegram() {
        let data = CallbackData::Extend(AssetId(i64::MAX));
        assert!(data.encode().len() <= MAX_CALLBACK_BYTES);
        assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        assert_eq!(CallbackData::parse("x:12"), Some(CallbackData::Extend(AssetId(12))));
        assert_eq!(CallbackData::parse("x:-1"), None);
        assert_eq!(CallbackData::parse("x:"), None);
        assert_eq!(CallbackData::parse("zz:1"), None);
        let buy = CallbackData::Buy { stars: u32::MAX, credits: i64::MAX };
        assert!(buy.encode().len() <= MAX_CALLBACK_BYTES);
        assert_eq!(CallbackData::parse(&buy.encode()), Some(buy));
        assert_eq!(CallbackData::parse("b:1"), None);
        assert_eq!(CallbackData::parse(""), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in "\\PC{0,80}") {
            let _ = CallbackData::parse(&data);
        }

        #[test]
        fn every_asset_round_trips(id in 1i64..) {
            let data = CallbackData::Extend(AssetId(id));
            prop_assert!(data.encode().len() <= MAX_CALLBACK_BYTES);
            prop_assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        }
    }
}
