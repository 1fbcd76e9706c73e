//! A deterministic, network-free embedding: hashed word and character n-grams (the
//! "hashing trick"), L2-normalised. Texts that share words, word pairs or word pieces
//! land close in cosine; CJK text, which has no spaces, contributes characters and
//! character pairs. Good enough to make retrieval real without a model.

/// LightRAG's EMBEDDING_DIM default for this binding.
pub const DEFAULT_DIM: usize = 1024;

pub struct HashedNgrams {
    dim: usize,
}

/// FNV-1a over a kind byte and parts, each part followed by 0xff, fed piece by piece
/// so that no part has to be built as a string first.
struct Fnv(u64);

impl Fnv {
    fn new(kind: u8) -> Fnv {
        let mut hash = Fnv(0xcbf2_9ce4_8422_2325);
        hash.byte(kind);
        hash
    }

    fn byte(&mut self, byte: u8) {
        self.0 ^= u64::from(byte);
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    fn part(&mut self, part: &str) -> &mut Fnv {
        part.bytes().for_each(|b| self.byte(b));
        self.byte(0xff);
        self
    }

    fn chars(&mut self, chars: &[char]) -> &mut Fnv {
        let mut utf8 = [0u8; 4];
        for c in chars {
            c.encode_utf8(&mut utf8).bytes().for_each(|b| self.byte(b));
        }
        self.byte(0xff);
        self
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// The words of a text, lowercased into one buffer: `text[spans[i]]` is word `i`, every
/// CJK character a word of its own. Two allocations per text, none per word.
struct Words {
    text: String,
    spans: Vec<std::ops::Range<usize>>,
}

impl Words {
    fn of(text: &str) -> Words {
        let mut words = Words {
            text: String::with_capacity(text.len()),
            spans: Vec::with_capacity(text.len() / 4),
        };
        let mut start = 0;
        for c in text.chars().flat_map(char::to_lowercase) {
            if is_cjk(c) {
                words.close(start);
                words.text.push(c);
                words.close(words.text.len() - c.len_utf8());
                start = words.text.len();
            } else if c.is_alphanumeric() {
                words.text.push(c);
            } else {
                words.close(start);
                start = words.text.len();
            }
        }
        words.close(start);
        words
    }

    /// Ends the word that began at `start`, if it has any characters.
    fn close(&mut self, start: usize) {
        if self.text.len() > start {
            self.spans.push(start..self.text.len());
        }
    }

    fn iter(&self) -> impl Iterator<Item = &str> {
        self.spans.iter().map(|span| &self.text[span.clone()])
    }
}

impl HashedNgrams {
    pub fn new(dim: usize) -> HashedNgrams {
        HashedNgrams { dim: dim.max(1) }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn add(&self, vector: &mut [f32], hash: &Fnv, weight: f32) {
        let index = (hash.0 % self.dim as u64) as usize;
        let sign = if hash.0 >> 63 == 0 { 1.0 } else { -1.0 };
        vector[index] += sign * weight;
    }

    pub fn embed(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0.0f32; self.dim];
        let words = Words::of(text);
        let mut chars: Vec<char> = Vec::new();
        for word in words.iter() {
            self.add(&mut vector, Fnv::new(b'w').part(word), 1.0);
            chars.clear();
            chars.extend(word.chars());
            if chars.len() >= 4 {
                for gram in chars.windows(3) {
                    self.add(&mut vector, Fnv::new(b'c').chars(gram), 0.25);
                }
            }
        }
        for (first, second) in words.iter().zip(words.iter().skip(1)) {
            self.add(&mut vector, Fnv::new(b'b').part(first).part(second), 0.5);
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }

    /// One vector per text, the texts shared out over the cores when they are long
    /// enough to pay for a thread.
    pub fn embed_batch<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Vec<Vec<f32>> {
        let bytes: usize = texts.iter().map(|t| t.as_ref().len()).sum();
        let per_thread = if bytes >= 2 * BYTES_PER_THREAD {
            1
        } else {
            usize::MAX
        };
        crate::cores::map(texts, per_thread, |t| self.embed(t.as_ref()))
    }
}

/// Less text than this per core is embedded on the caller's thread: hashing it takes
/// about as long as starting a thread (tens of microseconds).
const BYTES_PER_THREAD: usize = 8 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn related_texts_are_closer_than_unrelated_ones() {
        let e = HashedNgrams::new(DEFAULT_DIM);
        let a = e.embed("Elon Musk founded SpaceX to build reusable rockets.");
        let b = e.embed("SpaceX, the rocket company founded by Elon Musk");
        let c = e.embed("The recipe needs flour, butter and two eggs.");
        assert!(cos(&a, &b) > 0.4, "{}", cos(&a, &b));
        assert!(cos(&a, &c) < 0.15, "{}", cos(&a, &c));
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
        assert_eq!(
            a,
            e.embed("Elon Musk founded SpaceX to build reusable rockets.")
        );
    }

    /// The hashing as first written (a string per word and n-gram): vectors stored by
    /// earlier versions stay comparable with new ones.
    fn reference(dim: usize, text: &str) -> Vec<f32> {
        fn fnv1a(kind: u8, parts: &[&str]) -> u64 {
            let mut hash = Fnv::new(kind);
            parts.iter().for_each(|p| {
                hash.part(p);
            });
            hash.0
        }
        let mut words: Vec<String> = Vec::new();
        let mut current = String::new();
        for c in text.chars().flat_map(char::to_lowercase) {
            if is_cjk(c) {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                words.push(c.to_string());
            } else if c.is_alphanumeric() {
                current.push(c);
            } else if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
        let mut vector = vec![0.0f32; dim];
        let mut add = |hash: u64, weight: f32| {
            let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
            vector[(hash % dim as u64) as usize] += sign * weight;
        };
        for word in &words {
            add(fnv1a(b'w', &[word]), 1.0);
            let chars: Vec<char> = word.chars().collect();
            if chars.len() >= 4 {
                for gram in chars.windows(3) {
                    add(fnv1a(b'c', &[&gram.iter().collect::<String>()]), 0.25);
                }
            }
        }
        for pair in words.windows(2) {
            add(fnv1a(b'b', &[&pair[0], &pair[1]]), 0.5);
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }

    #[test]
    fn vectors_are_those_of_the_first_implementation() {
        let e = HashedNgrams::new(DEFAULT_DIM);
        for text in [
            "Elon Musk founded SpaceX to build reusable rockets.",
            "知识图谱检索 and Größe, ÉCOLE; naïve-café 42x",
            "",
            "   ",
            "a",
        ] {
            assert_eq!(e.embed(text), reference(DEFAULT_DIM, text), "{text:?}");
        }
        let many: Vec<String> = (0..100).map(|i| format!("text {i} of many")).collect();
        let one_by_one: Vec<Vec<f32>> = many.iter().map(|t| e.embed(t)).collect();
        assert_eq!(e.embed_batch(&many), one_by_one);
    }

    #[test]
    fn cjk_and_empty_text() {
        let e = HashedNgrams::new(256);
        let a = e.embed("知识图谱检索");
        let b = e.embed("知识图谱");
        assert!(cos(&a, &b) > 0.5);
        assert!(e.embed("").iter().all(|x| *x == 0.0));
        assert_eq!(e.embed_batch(&["a", "b"]).len(), 2);
    }
}
