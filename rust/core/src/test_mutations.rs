//! Random mutations of JSON text, for the tests that hold a fast check to the path it shortcuts
//! (the serde check, the split): whatever the fast one accepts of a mutant, the other must too.

/// `base` with one to three mutations: a byte replaced by one of `alphabet`, a byte removed, a
/// random byte inserted, or (with `doubling`) a piece of up to 120 bytes doubled in place
/// (whole members, elements, strings).
pub(crate) fn mutate(rng: &mut fastrand::Rng, base: &[u8], alphabet: &[u8], doubling: bool) -> Vec<u8> {
    let mut m = base.to_vec();
    for _ in 0..rng.usize(1..4) {
        let at = rng.usize(..m.len());
        match rng.u8(..if doubling { 4 } else { 3 }) {
            0 => m[at] = alphabet[rng.usize(..alphabet.len())],
            1 => _ = m.remove(at),
            2 => m.insert(at, rng.u8(..)),
            _ => {
                let end = (at + rng.usize(1..120)).min(m.len());
                let piece = m[at..end].to_vec();
                m.splice(at..at, piece);
            }
        }
    }
    m
}
