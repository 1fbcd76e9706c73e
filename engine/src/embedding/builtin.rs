//! A deterministic, network-free embedding: hashed word and character n-grams (the
//! "hashing trick"), L2-normalised. Texts that share words, word pairs or word pieces
//! land close in cosine; CJK text, which has no spaces, contributes characters and
//! character pairs. Good enough to make retrieval real without a model.

/// LightRAG's EMBEDDING_DIM default for this binding.
pub const DEFAULT_DIM: usize = 1024;

pub struct HashedNgrams {
    dim: usize,
}

fn fnv1a(kind: u8, parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    };
    feed(kind);
    for part in parts {
        part.bytes().for_each(&mut feed);
        feed(0xff);
    }
    hash
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

/// Words, with every CJK character a word of its own.
fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_cjk(c) {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            out.push(c.to_string());
        } else if c.is_alphanumeric() {
            current.push(c);
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

impl HashedNgrams {
    pub fn new(dim: usize) -> HashedNgrams {
        HashedNgrams { dim: dim.max(1) }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn add(&self, vector: &mut [f32], hash: u64, weight: f32) {
        let index = (hash % self.dim as u64) as usize;
        let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
        vector[index] += sign * weight;
    }

    pub fn embed(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0.0f32; self.dim];
        let words = words(text);
        for word in &words {
            self.add(&mut vector, fnv1a(b'w', &[word]), 1.0);
            let chars: Vec<char> = word.chars().collect();
            if chars.len() >= 4 {
                for gram in chars.windows(3) {
                    let gram: String = gram.iter().collect();
                    self.add(&mut vector, fnv1a(b'c', &[&gram]), 0.25);
                }
            }
        }
        for pair in words.windows(2) {
            self.add(&mut vector, fnv1a(b'b', &[&pair[0], &pair[1]]), 0.5);
        }
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
        vector
    }

    pub fn embed_batch<S: AsRef<str>>(&self, texts: &[S]) -> Vec<Vec<f32>> {
        texts.iter().map(|t| self.embed(t.as_ref())).collect()
    }
}

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
