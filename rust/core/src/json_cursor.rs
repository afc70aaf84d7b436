//! The cursor the verifier's fast body pass (`body_accept`) reads a line's body with: JSON
//! tokens read in place, without building values or allocating, each method returning None
//! where the bytes are not (or not surely) what the schema needs.

use crate::hash;
use crate::quote_index::QuoteIndex;
use crate::record::Envelope;

/// Nesting this pass follows (the line's object is level 1); deeper values are left to serde,
/// whose recursion limit (128) refuses some of them.
const MAX_DEPTH: u32 = 64;

/// `Cursor::end` of an element whose closing brace is not read yet.
const OPEN_END: usize = usize::MAX;

/// `body::parse_uuid_v4` for the one spelling it accepts (36 characters, lowercase, hyphens
/// at 8, 13, 18 and 23, version 4, RFC 4122 variant), without going through `&str`: the 32
/// digits are decoded by the digest decoder (padded to its 64), a few dozen instructions
/// instead of a loop over 36 characters.
pub(crate) fn uuid_v4(text: &[u8]) -> Option<u128> {
    let t: &[u8; 36] = text.try_into().ok()?;
    let shape = t[8] == b'-' && t[13] == b'-' && t[18] == b'-' && t[23] == b'-' && t[14] == b'4';
    if !shape || !matches!(t[19], b'8' | b'9' | b'a' | b'b') {
        return None;
    }
    let mut digits = [b'0'; 64];
    digits[..8].copy_from_slice(&t[..8]);
    digits[8..12].copy_from_slice(&t[9..13]);
    digits[12..16].copy_from_slice(&t[14..18]);
    digits[16..20].copy_from_slice(&t[19..23]);
    digits[20..32].copy_from_slice(&t[24..]);
    let bytes = hash::parse_hex(&digits)?;
    Some(u128::from_be_bytes(bytes[..16].try_into().expect("16 bytes")))
}

/// A member name as read: its bytes when written without escapes.
pub(crate) enum Name<'a> {
    Plain(&'a [u8]),
    Escaped,
}

/// A position in a line's body. Every method returns None where the bytes are not (or not
/// surely) what the schema needs.
pub(crate) struct Cursor<'a> {
    b: &'a [u8],
    quotes: &'a QuoteIndex,
    i: usize,
    /// Just past the body's closing comma (a line) or the entry's closing brace (an entry);
    /// `OPEN_END` until an element's closing brace is read (`for_element`).
    end: usize,
    /// What follows the last top-level member: `,` in a line's body, `}` in an entry.
    close: u8,
    depth: u32,
}

impl<'a> Cursor<'a> {
    /// The body of a line `record::parse` split. The envelope around it is valid JSON once the
    /// timestamp is well formed (the other parts were checked byte by byte); the body must be
    /// UTF-8 and, in this fast path, free of control characters (the writer emits none; JSON
    /// allows some as whitespace, which serde judges).
    #[inline]
    pub(crate) fn for_body(
        line: &'a [u8],
        env: &Envelope,
        timestamp_ok: bool,
        quotes: &'a mut QuoteIndex,
    ) -> Option<Cursor<'a>> {
        if !timestamp_ok {
            return None;
        }
        let body = env.body;
        let start = body.as_ptr() as usize - line.as_ptr() as usize;
        // The body only: a string that runs past it is not found, and the serde path judges it.
        if !quotes.build(&line[..start + body.len()], start) {
            let (mut high, mut control) = (0u8, false);
            for &b in body {
                high |= b;
                control |= b < 0x20;
            }
            if control || (high >= 0x80 && std::str::from_utf8(body).is_err()) {
                return None;
            }
        }
        Some(Cursor { b: line, quotes, i: start, end: start + body.len(), close: b',', depth: 1 })
    }

    /// The members of a caller's entry (`entry[members]`, a compact JSON object's insides), read
    /// in place: the entry's own closing brace ends them, so the writer checks an entry without
    /// first copying its members next to a comma. The same rules as `for_body` (UTF-8, no control
    /// characters); an entry with whitespace before its closing brace is left to serde.
    #[inline]
    pub(crate) fn for_entry(
        entry: &'a [u8],
        members: std::ops::Range<usize>,
        quotes: &'a mut QuoteIndex,
    ) -> Option<Cursor<'a>> {
        if entry.get(members.end) != Some(&b'}') {
            return None;
        }
        let (start, end) = (members.start, members.end + 1);
        let b = &entry[..end];
        if !quotes.build(b, start) {
            let body = &b[start..];
            let (mut high, mut control) = (0u8, false);
            for &c in body {
                high |= c;
                control |= c < 0x20;
            }
            if control || (high >= 0x80 && std::str::from_utf8(body).is_err()) {
                return None;
            }
        }
        Some(Cursor { b, quotes, i: start, end, close: b'}', depth: 1 })
    }

    /// The members of the entry whose `{` is at `data[start]`, an element of a chunk's JSON
    /// array (`array_accept`), indexed with the whole array: its end is not known beforehand
    /// but found by the walk, at the first `}` after a top-level member (`end`). The same rules
    /// as `for_entry`; the caller checked the array's bytes as `for_entry` checks an entry's.
    #[inline]
    pub(crate) fn for_element(data: &'a [u8], start: usize, quotes: &'a QuoteIndex) -> Option<Cursor<'a>> {
        (data.get(start) == Some(&b'{')).then_some(())?;
        Some(Cursor { b: data, quotes, i: start + 1, end: OPEN_END, close: b'}', depth: 1 })
    }

    /// Just past the members' closing brace or comma, once found (`for_element`: once read).
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    pub(crate) fn done(&self) -> bool {
        self.i >= self.end
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    pub(crate) fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// The tag of the top-level member whose name comes next (None for any other name). A name
    /// spelled plainly is recognised in place: its first letter picks the candidates and the
    /// bytes `"name":` are compared whole, so the closing quote needs no search.
    /// `member`, for a name not seen before in this object: `seen` collects the names' bits and
    /// a repeated one is a refusal (serde decides what a duplicate member means).
    /// `next`: where in `names` to look first (the writer's member order makes it nearly always
    /// the one after the last name found); updated to follow the name found.
    #[inline]
    pub(crate) fn first_member<T>(&mut self, names: &[(&[u8], T)], seen: &mut T, next: &mut usize) -> Option<T>
    where
        T: Copy + PartialEq + Default + std::ops::BitAnd<Output = T> + std::ops::BitOrAssign,
    {
        let bit = self.member(names, next)?;
        if *seen & bit != T::default() {
            return None;
        }
        *seen |= bit;
        Some(bit)
    }

    #[inline]
    pub(crate) fn member<T: Copy>(&mut self, names: &[(&[u8], T)], next: &mut usize) -> Option<T> {
        let found = match names.get(*next) {
            Some(&(name, _)) if self.name_here(name) => Some(*next),
            _ => names.iter().position(|&(name, _)| self.name_here(name)),
        };
        if let Some(k) = found {
            self.i += names[k].0.len() + 3;
            *next = k + 1;
            return Some(names[k].1);
        }
        let name = self.name()?;
        let k = names.iter().position(|&(n, _)| n == name)?;
        *next = k + 1;
        Some(names[k].1)
    }

    /// Whether the bytes at the cursor are `"name":`, the name spelled plainly.
    #[inline]
    pub(crate) fn name_here(&self, name: &[u8]) -> bool {
        let at = self.i + 1;
        self.b.get(at) == name.first()
            && self.b.get(self.i) == Some(&b'"')
            && self.b.get(at..at + name.len()) == Some(name)
            && self.b.get(at + name.len()..at + name.len() + 2) == Some(b"\":")
    }

    /// One of `known` as the string at the cursor, closing quote included (None: another string,
    /// or not at a string; the cursor has not moved then).
    #[inline]
    pub(crate) fn known_name(&mut self, known: &[&'static [u8]]) -> Option<&'static [u8]> {
        let rest = self.b.get(self.i..)?;
        let name = known.iter().find(|n| {
            rest.len() > n.len() + 1 && rest[0] == b'"' && rest[1..].starts_with(n) && rest[n.len() + 1] == b'"'
        })?;
        self.i += name.len() + 2;
        Some(name)
    }

    /// A top-level member name without escapes, and its colon.
    #[inline]
    pub(crate) fn name(&mut self) -> Option<&'a [u8]> {
        let name = self.plain_string()?;
        self.eat(b':')?;
        Some(name)
    }

    /// After a top-level member's value: its comma, or after the last one, what closes the
    /// members (a line body's comma, an entry's brace).
    #[inline]
    pub(crate) fn end_member(&mut self) -> Option<()> {
        if self.end == OPEN_END {
            // An element's members: a comma goes on, its brace ends them.
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    self.end = self.i;
                }
                _ => return None,
            }
            return Some(());
        }
        self.eat(if self.i + 1 == self.end { self.close } else { b',' })?;
        (self.i <= self.end).then_some(())
    }

    /// A string: its raw content and whether it has escapes. Escapes are checked; a `\u` escape
    /// of a surrogate is left to serde (whether it decodes depends on its neighbour). Inlined
    /// into its callers: it runs for every string, and a call cost as much as the scan.
    #[allow(clippy::inline_always, reason = "measured: a call per string cost as much as the scan")]
    #[inline(always)]
    pub(crate) fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            let at = self.quotes.next(self.i)?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some((&self.b[start..at], escaped));
            }
            escaped = true;
            self.i = at
                + match self.b.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' => {
                        let hex = self.b.get(at + 2..at + 6)?;
                        let unit = hex.iter().try_fold(0u32, |acc, &d| Some(acc * 16 + (d as char).to_digit(16)?))?;
                        if (0xD800..0xE000).contains(&unit) {
                            return None;
                        }
                        6
                    }
                    _ => return None,
                };
        }
    }

    /// A lowercase `UUIDv4` string: a fixed width, so no scan for its end.
    pub(crate) fn uuid(&mut self) -> Option<u128> {
        let text = self.b.get(self.i..self.i + 38)?;
        (text[0] == b'"' && text[37] == b'"').then_some(())?;
        self.i += 38;
        uuid_v4(&text[1..37])
    }

    /// A `sha256:<64 lowercase hex>` string: a fixed width, so no scan for its end.
    pub(crate) fn state_hash(&mut self) -> Option<()> {
        let text = self.b.get(self.i..self.i + 73)?;
        (text[0] == b'"' && text[72] == b'"' && hash::is_prefixed_bytes(&text[1..72])).then_some(())?;
        self.i += 73;
        Some(())
    }

    /// A string written without escapes (one the schema compares).
    pub(crate) fn plain_string(&mut self) -> Option<&'a [u8]> {
        match self.string()? {
            (text, false) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn literal(&mut self, word: &[u8]) -> Option<()> {
        let rest = self.b.get(self.i..)?;
        rest.starts_with(word).then(|| self.i += word.len())
    }

    pub(crate) fn boolean(&mut self) -> Option<bool> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| true),
            b'f' => self.literal(b"false").map(|()| false),
            _ => None,
        }
    }

    pub(crate) fn digits(&mut self) -> usize {
        let n = self.b[self.i..].iter().take_while(|b| b.is_ascii_digit()).count();
        self.i += n;
        n
    }

    /// RFC 8259 number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    pub(crate) fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let first = self.peek()?;
        let n = self.digits();
        if n == 0 || (first == b'0' && n > 1) {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            (self.digits() > 0).then_some(())?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            (self.digits() > 0).then_some(())?;
        }
        Some(())
    }

    /// A non-negative number without exponent and of modest length: always a finite f64 >= 0,
    /// as serde reads `duration_ms`. Other spellings are left to serde.
    pub(crate) fn plain_non_negative(&mut self) -> Option<()> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            return None;
        }
        self.number()?;
        let text = &self.b[start..self.i];
        (text.len() <= 300 && !text.iter().any(|b| matches!(b, b'e' | b'E'))).then_some(())
    }

    /// A one-digit unsigned integer (the tier); other spellings are left to serde.
    pub(crate) fn small_uint(&mut self) -> Option<u8> {
        let d = self.peek()?;
        let next = self.b.get(self.i + 1).copied()?;
        (d.is_ascii_digit() && !matches!(next, b'0'..=b'9' | b'.' | b'e' | b'E')).then(|| {
            self.i += 1;
            d - b'0'
        })
    }

    /// Any JSON value, validated and skipped.
    pub(crate) fn value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => self.object(|c, _| c.value()),
            b'[' => self.array(Cursor::value),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number(),
        }
    }

    pub(crate) fn enter(&mut self, open: u8) -> Option<()> {
        self.eat(open)?;
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())?;
        Some(())
    }

    /// An object; `member` reads each value after its name and colon.
    #[inline]
    pub(crate) fn object(&mut self, member: impl FnMut(&mut Self, Name<'a>) -> Option<()>) -> Option<()> {
        self.object_of(&[], member)
    }

    /// An object whose schema names `known`: those names, written plainly, are recognised in
    /// place (`"name"` compared whole) rather than searched for; others are read as usual.
    #[inline]
    pub(crate) fn object_of(
        &mut self,
        known: &[&'static [u8]],
        mut member: impl FnMut(&mut Self, Name<'a>) -> Option<()>,
    ) -> Option<()> {
        self.enter(b'{')?;
        if self.eat(b'}').is_some() {
            self.depth -= 1;
            return Some(());
        }
        loop {
            let name = match self.known_name(known) {
                Some(text) => Name::Plain(text),
                None => match self.string()? {
                    (text, false) => Name::Plain(text),
                    (_, true) => Name::Escaped,
                },
            };
            self.eat(b':')?;
            member(self, name)?;
            match self.peek()? {
                b',' => {
                    self.i += 1;
                }
                b'}' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array; `element` reads each element.
    #[inline]
    pub(crate) fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.enter(b'[')?;
        if self.eat(b']').is_some() {
            self.depth -= 1;
            return Some(());
        }
        loop {
            element(self)?;
            match self.peek()? {
                b',' => {
                    self.i += 1;
                }
                b']' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}
