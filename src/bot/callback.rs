//! What an inline button carries back when pressed (`callback_data`, at
//! most 64 bytes): one short prefix per kind, parsed back into a typed value.

/// The meaning of an inline button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// Buy the package of `stars` Stars for `credits` credits: sends its invoice.
    Buy { stars: u32, credits: i64 },
}

impl CallbackData {
    /// At most 64 bytes, as Telegram allows.
    pub fn encode(&self) -> String {
        match self {
            CallbackData::Buy { stars, credits } => format!("b:{stars}:{credits}"),
        }
    }

    pub fn parse(data: &str) -> Option<Self> {
        let (prefix, rest) = data.split_once(':')?;
        match prefix {
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
    fn round_trips_within_64_bytes() {
        let data = CallbackData::Buy { stars: u32::MAX, credits: i64::MAX };
        assert!(data.encode().len() <= 64);
        assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        assert_eq!(CallbackData::parse("b:1"), None);
        assert_eq!(CallbackData::parse("zz:1:2"), None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in "\\PC{0,64}") {
            let _ = CallbackData::parse(&data);
        }
    }
}
