//! Inline button presses: what a button's `callback_data` says, typed.
//! Services put it on the buttons they send (the ➕ under every video, the
//! ✅ / ❌ under an approval); the bot's update handler parses it back when
//! a button is pressed. Each variant has a short prefix; the encoded data
//! is at most 64 bytes (Telegram's limit), and anything else (an old or
//! forged button) parses to `None` and is answered with a notice.

use super::{ApprovalId, AssetId, Choice, Decision, RequestId};

/// Telegram's limit on `callback_data`.
pub const MAX_CALLBACK_DATA: usize = 64;

/// What an inline button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackData {
    /// "➕ Extend" under a video: continue that asset's video.
    Extend(AssetId),
    /// Buy the package of `stars` Stars for `credits` credits: sends its invoice.
    Buy { stars: u32, credits: i64 },
    /// /history: send again the video this (delivered) request got.
    History(RequestId),
    /// ✅ / ❌ under an approval (`ap:<id>:y|n`).
    Approval { id: ApprovalId, decision: Decision },
    /// The button left under an approval once it is decided (`ap:<id>:d`):
    /// pressing it only tells what was decided.
    Decided { id: ApprovalId },
    /// A button of the settings screen (`s:<token>`, e.g. `s:qfast`,
    /// `s:f9:16`, `s:llong`): the presser's own choice changes.
    Choose(Choice),
    /// "🏠 Menu" under a video (`m:`): shows the menu.
    Menu,
    /// A button of the menu (`m:new`, `m:set`, `m:hist`, `m:bal`).
    Open(MenuItem),
    /// ▶️ / ✨ under a similar-video offer (`o:<offer id>:s` sends the
    /// similar video, `o:<offer id>:m` makes the user's own wording).
    Offer { id: i64, send: bool },
}

/// What a button of the menu opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MenuItem {
    /// 🎬 New video: a hint on what to send.
    NewVideo,
    /// ⚙️ Settings: the settings screen.
    Settings,
    /// 📜 History: as /history.
    History,
    /// 💰 Balance: as /balance (shown while credits are on).
    Balance,
}

impl MenuItem {
    pub const ALL: [MenuItem; 4] = [MenuItem::NewVideo, MenuItem::Settings, MenuItem::History, MenuItem::Balance];

    fn token(self) -> &'static str {
        match self {
            MenuItem::NewVideo => "new",
            MenuItem::Settings => "set",
            MenuItem::History => "hist",
            MenuItem::Balance => "bal",
        }
    }

    fn parse(token: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|item| item.token() == token)
    }
}

impl CallbackData {
    /// The `callback_data` of a button (at most 64 bytes).
    pub fn encode(&self) -> String {
        match self {
            CallbackData::Extend(asset) => format!("x:{}", asset.0),
            CallbackData::Buy { stars, credits } => format!("b:{stars}:{credits}"),
            CallbackData::History(request) => format!("h:{}", request.0),
            CallbackData::Approval { id, decision: Decision::Approve } => format!("ap:{id}:y"),
            CallbackData::Approval { id, decision: Decision::Reject } => format!("ap:{id}:n"),
            CallbackData::Decided { id } => format!("ap:{id}:d"),
            CallbackData::Choose(choice) => format!("s:{}", choice.token()),
            CallbackData::Menu => "m:".to_owned(),
            CallbackData::Open(item) => format!("m:{}", item.token()),
            CallbackData::Offer { id, send: true } => format!("o:{id}:s"),
            CallbackData::Offer { id, send: false } => format!("o:{id}:m"),
        }
    }

    /// Reads a button's `callback_data`; `None` for anything this bot did not encode.
    pub fn parse(data: &str) -> Option<Self> {
        if data.is_empty() || data.len() > MAX_CALLBACK_DATA {
            return None;
        }
        let (prefix, rest) = data.split_once(':')?;
        match prefix {
            "x" => Some(CallbackData::Extend(AssetId(parse_id(rest)?))),
            "b" => {
                let (stars, credits) = rest.split_once(':')?;
                Some(CallbackData::Buy { stars: stars.parse().ok()?, credits: credits.parse().ok()? })
            }
            "h" => Some(CallbackData::History(RequestId(parse_id(rest)?))),
            "ap" => {
                let (id, what) = rest.split_once(':')?;
                let id = ApprovalId(id.parse().ok().filter(|n: &i64| *n > 0)?);
                match what {
                    "y" => Some(CallbackData::Approval { id, decision: Decision::Approve }),
                    "n" => Some(CallbackData::Approval { id, decision: Decision::Reject }),
                    "d" => Some(CallbackData::Decided { id }),
                    _ => None,
                }
            }
            // only the exact tokens this bot writes (`Choice::parse` alone would take `QFAST`)
            "s" => Choice::parse(rest).filter(|choice| choice.token() == rest).map(CallbackData::Choose),
            "m" if rest.is_empty() => Some(CallbackData::Menu),
            "m" => MenuItem::parse(rest).map(CallbackData::Open),
            "o" => {
                let (id, what) = rest.split_once(':')?;
                let id = parse_id(id)?;
                match what {
                    "s" => Some(CallbackData::Offer { id, send: true }),
                    "m" => Some(CallbackData::Offer { id, send: false }),
                    _ => None,
                }
            }
            _ => None,
        }
    }
}

/// A positive decimal id, nothing else (no sign, no spaces).
fn parse_id(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn round_trips_and_fits_telegram() {
        let data = CallbackData::Extend(AssetId(i64::MAX));
        assert!(data.encode().len() <= MAX_CALLBACK_DATA);
        assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        assert_eq!(CallbackData::parse("x:12"), Some(CallbackData::Extend(AssetId(12))));
        assert_eq!(CallbackData::parse("x:-1"), None);
        assert_eq!(CallbackData::parse("x:"), None);
        assert_eq!(CallbackData::parse("zz:1"), None);
        let buy = CallbackData::Buy { stars: u32::MAX, credits: i64::MAX };
        assert!(buy.encode().len() <= MAX_CALLBACK_DATA);
        assert_eq!(CallbackData::parse(&buy.encode()), Some(buy));
        assert_eq!(CallbackData::parse("b:1"), None);
        assert_eq!(CallbackData::parse(""), None);
        let data = CallbackData::History(RequestId(i64::MAX));
        assert!(data.encode().len() <= MAX_CALLBACK_DATA);
        assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        for bad in ["", "h:", "h:-1", "h:0", "h: 1", "h:1x", "x:1x", "h", "h:99999999999999999999"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn approvals_round_trip_within_64_bytes() {
        for data in [
            CallbackData::Approval { id: ApprovalId(i64::MAX), decision: Decision::Approve },
            CallbackData::Approval { id: ApprovalId(1), decision: Decision::Reject },
            CallbackData::Decided { id: ApprovalId(42) },
        ] {
            let raw = data.encode();
            assert!(raw.len() <= MAX_CALLBACK_DATA, "{raw}");
            assert_eq!(CallbackData::parse(&raw), Some(data));
        }
        for bad in ["ap", "ap:1", "ap:x:y", "ap:0:y", "ap:1:q", "ap:1:y:extra"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn settings_and_menu_buttons_round_trip_within_64_bytes() {
        let mut all: Vec<CallbackData> = Choice::all().map(CallbackData::Choose).collect();
        all.push(CallbackData::Menu);
        all.extend(MenuItem::ALL.map(CallbackData::Open));
        for data in &all {
            let raw = data.encode();
            assert!(!raw.is_empty() && raw.len() <= MAX_CALLBACK_DATA, "{raw}");
            assert_eq!(CallbackData::parse(&raw), Some(*data), "{raw}");
        }
        let raws: Vec<String> = all.iter().map(CallbackData::encode).collect();
        assert_eq!(
            raws,
            ["s:qfast", "s:qquality", "s:f16:9", "s:f9:16", "s:lshort", "s:llong", "m:", "m:new", "m:set", "m:hist", "m:bal"]
        );
        for bad in ["s:", "s:q", "s:qslow", "s:f4:3", "s:QFAST", "s: qfast", "s:x9:16", "m:nope", "m:new:1", "m", "s"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn offers_round_trip_within_64_bytes() {
        for data in [CallbackData::Offer { id: i64::MAX, send: true }, CallbackData::Offer { id: 1, send: false }] {
            let raw = data.encode();
            assert!(raw.len() <= MAX_CALLBACK_DATA, "{raw}");
            assert_eq!(CallbackData::parse(&raw), Some(data));
        }
        assert_eq!(CallbackData::Offer { id: 7, send: true }.encode(), "o:7:s");
        for bad in ["o", "o:", "o:1", "o:0:s", "o:-1:s", "o:1:x", "o:1:s:2", "o:x:m"] {
            assert_eq!(CallbackData::parse(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn every_settings_choice_round_trips(i in 0usize..6) {
            let choice = Choice::all().nth(i).expect("six choices");
            let data = CallbackData::Choose(choice);
            let raw = data.encode();
            prop_assert!(raw.len() <= MAX_CALLBACK_DATA);
            prop_assert_eq!(CallbackData::parse(&raw), Some(data));
        }

        #[test]
        fn only_encoded_settings_tokens_parse(rest in "\\PC{0,70}") {
            if let Some(data) = CallbackData::parse(&format!("s:{rest}")) {
                prop_assert_eq!(data.encode(), format!("s:{rest}"));
            }
        }

        #[test]
        fn parse_never_panics(data in "\\PC{0,80}") {
            let _ = CallbackData::parse(&data);
        }

        #[test]
        fn every_asset_round_trips(id in 1i64..) {
            let data = CallbackData::Extend(AssetId(id));
            prop_assert!(data.encode().len() <= MAX_CALLBACK_DATA);
            prop_assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        }

        #[test]
        fn any_request_id_fits_and_parses_back(id in 1i64..) {
            let data = CallbackData::History(RequestId(id));
            prop_assert!(data.encode().len() <= MAX_CALLBACK_DATA);
            prop_assert_eq!(CallbackData::parse(&data.encode()), Some(data));
        }
    }
}
