//! Words of a prompt for the catalog search: the stems of its words
//! (English and Russian, by a light suffix stripper; stop words left out),
//! each hashed to a 64-bit term id kept in the database's postings, and
//! the similarity of two prompts by those stems and their letter trigrams,
//! and the MinHash bands under which near twins meet in the database (see
//! [`Terms::bands`]). No service and no model: the same text always gives
//! the same terms and the same bands.

use std::collections::BTreeSet;

use super::Prompt;
use super::prompt::hex_sha256;

/// Terms kept per prompt at most (a 1,000-character prompt would give
/// a hundred): the first ones, in order of appearance.
pub const MAX_TERMS: usize = 24;

/// Bands of a prompt's MinHash signature: two prompts whose stems are
/// alike share at least one band almost always (Jaccard index of the stems
/// 0.7: 99%; 0.8: 99.98%), unrelated ones rarely (0.2: 6%).
pub const BANDS: usize = 8;
/// MinHash values per band.
pub const BAND_WIDTH: usize = 3;

/// The stems of a prompt, without repeats, in order of first appearance
/// (at most [`MAX_TERMS`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms(Vec<String>);

impl Terms {
    /// The terms of a normalized prompt.
    pub fn of(prompt: &Prompt) -> Self {
        Self::of_text(prompt.as_str())
    }

    /// The terms of any text (normalized or not: it is lower-cased here).
    pub fn of_text(text: &str) -> Self {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for word in text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let word = word.to_lowercase().replace('ё', "е");
            if is_stop_word(&word) {
                continue;
            }
            let stem = stem(&word);
            if stem.is_empty() || (stem.chars().count() < 2 && !stem.chars().all(|c| c.is_ascii_digit())) {
                continue;
            }
            if seen.insert(stem.clone()) {
                out.push(stem);
                if out.len() == MAX_TERMS {
                    break;
                }
            }
        }
        Self(out)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn stems(&self) -> &[String] {
        &self.0
    }

    /// The 64-bit ids of the terms, as stored in the postings.
    pub fn ids(&self) -> Vec<i64> {
        self.0.iter().map(|s| term_id(s)).collect()
    }

    /// The [`BANDS`] band ids of the stems' MinHash signature under `salt`
    /// (the recipe's id: prompts of other choices never share a band).
    /// Each band hashes [`BAND_WIDTH`] MinHash values, each the least of
    /// the stems' ids under one fixed hash function; the chance that two
    /// prompts share a band is `1 - (1 - J³)⁸` for `J` the Jaccard index of
    /// their stems. Order of the words does not matter. Empty for no terms.
    pub fn bands(&self, salt: i64) -> Vec<i64> {
        if self.is_empty() {
            return Vec::new();
        }
        let ids: Vec<u64> = self.ids().into_iter().map(|id| id as u64).collect();
        (0..BANDS)
            .map(|band| {
                let mut h = mix(salt as u64 ^ mix(band as u64 + 1));
                for k in 0..BAND_WIDTH {
                    let seed = mix(0x6d69_6e68_6173_6800 + (band * BAND_WIDTH + k) as u64);
                    let least = ids.iter().map(|&id| mix(id ^ seed)).min().unwrap_or(0);
                    h = mix(h ^ least);
                }
                h as i64
            })
            .collect()
    }

    /// How alike two prompts' words are, 0.0–1.0: the Jaccard index of
    /// their stems (weight 0.85) and of their stems' letter trigrams (0.15,
    /// which forgives a typo or another ending the stemmer missed).
    pub fn similarity(&self, other: &Terms) -> f64 {
        if self.is_empty() || other.is_empty() {
            return 0.0;
        }
        let a: BTreeSet<&str> = self.0.iter().map(String::as_str).collect();
        let b: BTreeSet<&str> = other.0.iter().map(String::as_str).collect();
        let words = jaccard(&a, &b);
        let ta = self.trigrams();
        let tb = other.trigrams();
        let grams = jaccard(&ta, &tb);
        0.85 * words + 0.15 * grams
    }

    fn trigrams(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for stem in &self.0 {
            let chars: Vec<char> = format!(" {stem} ").chars().collect();
            for window in chars.windows(3) {
                out.insert(window.iter().collect());
            }
        }
        out
    }
}

fn jaccard<T: Ord>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> f64 {
    let common = a.intersection(b).count();
    let all = a.len() + b.len() - common;
    if all == 0 { 0.0 } else { common as f64 / all as f64 }
}

/// SplitMix64's finalizer: a fixed, well-spread 64-bit hash (the bands are
/// stored, so it never changes).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A stem's id in the postings: the first 8 bytes of its SHA-256.
pub fn term_id(stem: &str) -> i64 {
    let hex = hex_sha256(&[b"vidcache-term\x1f", stem.as_bytes()]);
    u64::from_str_radix(&hex[..16], 16).map_or(0, |n| n as i64)
}

fn is_stop_word(word: &str) -> bool {
    const EN: &[&str] = &[
        "a", "an", "the", "and", "or", "of", "in", "on", "at", "to", "for", "with", "by", "from", "over", "under", "into",
        "onto", "is", "are", "was", "were", "be", "it", "its", "this", "that", "as", "his", "her", "their", "my", "your", "our",
        "while",
    ];
    const RU: &[&str] = &[
        "и", "в", "во", "на", "с", "со", "по", "к", "ко", "у", "о", "об", "от", "до", "за", "из", "под", "над", "для", "а", "но",
        "или", "как", "что", "это", "его", "ее", "их", "мой", "моя", "свой", "своя", "же", "то",
    ];
    EN.contains(&word) || RU.contains(&word)
}

fn is_cyrillic(word: &str) -> bool {
    word.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// The stem of a lower-case word.
pub fn stem(word: &str) -> String {
    if is_cyrillic(word) { stem_ru(word) } else { stem_en(word) }
}

fn has_vowel(s: &str) -> bool {
    s.chars().any(|c| "aeiouy".contains(c))
}

fn stem_en(word: &str) -> String {
    if word.chars().count() <= 3 || !word.is_ascii() {
        return word.to_owned();
    }
    let mut w = word.to_owned();
    if let Some(base) = w.strip_suffix("ies").filter(|b| b.len() >= 2) {
        w = format!("{base}y");
    } else if w.ends_with("sses") || w.ends_with("ches") || w.ends_with("shes") || w.ends_with("xes") {
        w.truncate(w.len() - 2);
    } else if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") && w.len() > 3 {
        w.pop();
    }
    for suffix in ["ingly", "edly", "ing", "ed"] {
        if let Some(base) = w.strip_suffix(suffix)
            && base.len() >= 3
            && has_vowel(base)
        {
            w = base.to_owned();
            let bytes = w.as_bytes();
            let n = bytes.len();
            // running → run, hopped → hop (not: falling → fall, kissed → kiss)
            if n >= 2 && bytes[n - 1] == bytes[n - 2] && !b"lsz".contains(&bytes[n - 1]) && !has_vowel(&w[n - 1..]) {
                w.pop();
            }
            break;
        }
    }
    if let Some(base) = w.strip_suffix("ly").filter(|b| b.len() >= 4) {
        w = base.to_owned();
    }
    if w.len() > 3 && w.ends_with('e') {
        w.pop();
    }
    if w.len() > 3 && w.ends_with('y') {
        w.pop();
        w.push('i');
    }
    w
}

fn stem_ru(word: &str) -> String {
    const REFLEXIVE: &[&str] = &["ся", "сь"];
    // longest first within each group
    const ENDINGS: &[&str] = &[
        "ившись",
        "ывшись",
        "ующими",
        "ующего",
        "ующему",
        "ующий",
        "ующая",
        "ующее",
        "ующие",
        "ующих",
        "ующую",
        "ующим",
        "ающий",
        "яющий",
        "ости",
        "ость",
        "ами",
        "ями",
        "ого",
        "его",
        "ому",
        "ему",
        "ыми",
        "ими",
        "ешь",
        "ишь",
        "ете",
        "ите",
        "ает",
        "яет",
        "ают",
        "яют",
        "ала",
        "ало",
        "али",
        "ила",
        "ило",
        "или",
        "ыла",
        "ыло",
        "ыли",
        "ать",
        "ять",
        "еть",
        "ить",
        "уть",
        "ый",
        "ий",
        "ой",
        "ая",
        "яя",
        "ое",
        "ее",
        "ые",
        "ие",
        "ую",
        "юю",
        "ых",
        "их",
        "ым",
        "им",
        "ом",
        "ем",
        "ей",
        "ам",
        "ям",
        "ах",
        "ях",
        "ов",
        "ев",
        "ия",
        "ье",
        "ья",
        "ет",
        "ут",
        "ют",
        "ит",
        "ат",
        "ят",
        "ал",
        "ил",
        "ыл",
        "ть",
        "а",
        "я",
        "о",
        "е",
        "ы",
        "и",
        "у",
        "ю",
        "ь",
        "й",
    ];
    let mut w: Vec<char> = word.chars().collect();
    for r in REFLEXIVE {
        let r: Vec<char> = r.chars().collect();
        if w.len() > r.len() + 3 && w.ends_with(&r) {
            w.truncate(w.len() - r.len());
            break;
        }
    }
    for ending in ENDINGS {
        let e: Vec<char> = ending.chars().collect();
        if w.len() >= e.len() + 3 && w.ends_with(&e) {
            w.truncate(w.len() - e.len());
            break;
        }
    }
    w.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Terms {
        Terms::of(&Prompt::parse(s, 1000).expect("prompt"))
    }

    #[test]
    fn english_forms_meet() {
        assert_eq!(t("A red fox jumping over a wooden fence").stems(), t("red fox jumps over the wooden fence").stems());
        assert_eq!(stem("running"), "run");
        assert_eq!(stem("jumped"), "jump");
        assert_eq!(stem("dancing"), stem("dance"));
        assert_eq!(stem("cats"), "cat");
        assert_eq!(stem("puppies"), stem("puppy"));
        assert_eq!(stem("kissed"), "kiss");
    }

    #[test]
    fn russian_forms_meet() {
        assert_eq!(stem("лиса"), stem("лисы"));
        assert_eq!(stem("прыгает"), stem("прыгать"));
        assert_eq!(stem("деревянный"), stem("деревянного"));
        assert_eq!(
            t("Рыжая лиса прыгает через деревянный забор").stems(),
            t("рыжие лисы прыгают через деревянные заборы").stems()
        );
    }

    #[test]
    fn near_twins_are_close_and_strangers_are_not() {
        let fox = t("A red fox jumping over a wooden fence");
        assert!(fox.similarity(&t("red fox jumps over the wooden fence")) > 0.95);
        assert!(fox.similarity(&t("A blue whale singing in the ocean")) < 0.1);
        assert!(fox.similarity(&t("a red fox")) < 0.6);
        assert_eq!(fox.similarity(&Terms::of_text("")), 0.0);
    }

    #[test]
    fn near_twins_share_bands_and_strangers_and_other_recipes_do_not() {
        let fox = t("A red fox jumping over a wooden fence");
        assert_eq!(fox.bands(7).len(), BANDS);
        // the same stems in another wording and order: every band
        assert_eq!(fox.bands(7), t("the wooden fence a red fox jumps over").bands(7));
        // another recipe: none
        assert!(fox.bands(7).iter().all(|b| !fox.bands(8).contains(b)));
        // an unrelated prompt: none
        let whale = t("A blue whale singing in the ocean").bands(7);
        assert!(fox.bands(7).iter().all(|b| !whale.contains(b)));
        assert!(Terms::of_text("").bands(7).is_empty());
        // stable: stored bands must stay findable
        assert_eq!(t("red fox").bands(0), t("fox red").bands(0));
        assert_eq!(t("fox").bands(0)[0], t("fox").bands(0)[0]);
    }

    #[test]
    fn bands_meet_as_often_as_minhash_says() {
        // prompts of 6 stems sharing 5 (Jaccard 5/7 ≈ 0.71): at least one band in common almost always
        let (mut met, mut strangers_met) = (0, 0);
        for i in 0..400 {
            let base: Vec<String> = (0..5).map(|k| format!("w{i}x{k}")).collect();
            let a = Terms::of_text(&format!("{} alpha{i}", base.join(" ")));
            let b = Terms::of_text(&format!("{} beta{i}", base.join(" ")));
            assert!((a.similarity(&b) - 0.85 * 5.0 / 7.0).abs() < 0.15);
            let (ba, bb) = (a.bands(1), b.bands(1));
            if ba.iter().any(|x| bb.contains(x)) {
                met += 1;
            }
            // sharing 1 of 11 stems: rarely
            let c = Terms::of_text(&format!("{} gamma{i} delta{i} eps{i} zeta{i} eta{i}", base[0]));
            if c.bands(1).iter().any(|x| ba.contains(x)) {
                strangers_met += 1;
            }
        }
        // 1 - (1 - (5/7)^3)^8 = 0.990; 1 - (1 - (1/11)^3)^8 < 0.01
        assert!(met >= 380, "{met} of 400");
        assert!(strangers_met <= 8, "{strangers_met} of 400");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(term_id("fox"), term_id("fox"));
        assert_ne!(term_id("fox"), term_id("foxe"));
        let many = t(&"word ".repeat(10));
        assert_eq!(many.len(), 1);
        let long: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(Terms::of_text(&long).len(), MAX_TERMS);
    }
}
