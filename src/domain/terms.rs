//! Words of a prompt for the catalog search: the stems of its words
//! (English and Russian, by a light suffix stripper; stop words left out),
//! each hashed to a 64-bit term id kept in the database's postings, and
//! the similarity of two prompts by those stems and their letter trigrams.
//! No service and no model: the same text always gives the same terms.

use std::collections::BTreeSet;

use super::Prompt;
use super::prompt::hex_sha256;

/// Terms kept per prompt at most (a 1,000-character prompt would give
/// a hundred): the first ones, in order of appearance.
pub const MAX_TERMS: usize = 24;

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
    fn ids_are_stable_and_distinct() {
        assert_eq!(term_id("fox"), term_id("fox"));
        assert_ne!(term_id("fox"), term_id("foxe"));
        let many = t(&"word ".repeat(10));
        assert_eq!(many.len(), 1);
        let long: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(Terms::of_text(&long).len(), MAX_TERMS);
    }
}
