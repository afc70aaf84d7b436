//! Where a scan's lines come from: a segment already in memory, or a segment file read in chunks
//! into one reused buffer. The verifier streams: a read into a buffer that stays in cache costs
//! less than mapping the same pages (a fault per 64 KiB, then unmapping them again), and leaves
//! the line in cache for the passes that follow (newline search, SHA-256, body check). Memory
//! stays at one buffer per thread whatever the segment size.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// A line's offset in its segment, and its bytes.
pub type Line<'a> = (u64, &'a [u8]);

/// Lines in order, each with its byte offset in the segment; the last line may lack its `\n`
/// (a torn tail). A lending iterator: a line is valid until the next call.
pub trait LineFeed {
    /// The next line and its offset, None after the last.
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>>;
    /// The next two lines, so that they can be hashed together (`hash_pair`). The second is
    /// None after the last line, and where holding both would grow a buffer (it is then the
    /// first of the next call).
    fn next_two(&mut self) -> io::Result<(Option<Line<'_>>, Option<Line<'_>>)>;
    /// Offset of the line `next_line` returns next (the end when there is none).
    fn position(&self) -> u64;
}

/// The lines of `bytes[start..end]`, offsets relative to `bytes` plus `base` (where `bytes`
/// starts in its segment: a piece's byte range held in memory).
pub struct SliceLines<'b> {
    bytes: &'b [u8],
    base: u64,
    pos: usize,
}

impl<'b> SliceLines<'b> {
    #[must_use]
    pub fn new(bytes: &'b [u8], start: usize) -> Self {
        SliceLines { bytes, base: 0, pos: start.min(bytes.len()) }
    }

    /// The lines of `bytes`, which start at offset `base` of their segment.
    #[must_use]
    pub fn at(bytes: &'b [u8], base: u64) -> Self {
        SliceLines { bytes, base, pos: 0 }
    }
}

impl SliceLines<'_> {
    /// The end of the line starting at `pos` (None: no bytes left there).
    fn line_end(&self, pos: usize) -> Option<usize> {
        (pos < self.bytes.len())
            .then(|| memchr::memchr(b'\n', &self.bytes[pos..]).map_or(self.bytes.len(), |i| pos + i + 1))
    }
}

impl LineFeed for SliceLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        let pos = self.pos;
        let Some(end) = self.line_end(pos) else { return Ok(None) };
        self.pos = end;
        Ok(Some((self.base + pos as u64, &self.bytes[pos..end])))
    }

    fn next_two(&mut self) -> io::Result<(Option<Line<'_>>, Option<Line<'_>>)> {
        let start = self.pos;
        let Some(mid) = self.line_end(start) else { return Ok((None, None)) };
        let end = self.line_end(mid);
        self.pos = end.unwrap_or(mid);
        let at = |from: usize| self.base + from as u64;
        Ok((Some((at(start), &self.bytes[start..mid])), end.map(|end| (at(mid), &self.bytes[mid..end]))))
    }

    fn position(&self) -> u64 {
        self.base + self.pos as u64
    }
}

/// Bytes read per call: large enough that the system call is a small share, small enough that
/// the buffer stays in the core's L2 cache while its lines are checked.
pub const CHUNK: usize = 1 << 20;

/// The lines of a file's bytes `[start, end)`, read with `pread` in chunks of `CHUNK`. A line
/// longer than the buffer grows it. `end` is a snapshot of the file's length (a live segment may
/// grow meanwhile; what was appended after is left for the next scan): a file found shorter ends
/// the lines where its bytes end.
pub struct FileLines<'f> {
    file: &'f File,
    buf: Vec<u8>,
    /// `buf[lo..hi]` holds the file's bytes from offset `at` on; `lo` is the next line's start.
    lo: usize,
    hi: usize,
    at: u64,
    /// How far past `lo` is already known to hold no `\n` (not searched again after a refill).
    searched: usize,
    end: u64,
    eof: bool,
}

impl<'f> FileLines<'f> {
    #[must_use]
    pub fn new(file: &'f File, start: u64, end: u64) -> Self {
        Self::with_buffer(file, start, end, CHUNK)
    }

    fn with_buffer(file: &'f File, start: u64, end: u64, size: usize) -> Self {
        FileLines { file, buf: vec![0; size], lo: 0, hi: 0, at: start, searched: 0, end, eof: start >= end }
    }

    /// Move the unread bytes to the front and read more after them; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        if self.lo > 0 {
            self.buf.copy_within(self.lo..self.hi, 0);
            self.at += self.lo as u64;
            self.hi -= self.lo;
            self.searched -= self.lo;
            self.lo = 0;
        }
        if self.hi == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let from = self.at + self.hi as u64;
        let want = (self.buf.len() - self.hi).min(usize::try_from(self.end - from).unwrap_or(usize::MAX));
        let n = loop {
            match self.file.read_at(&mut self.buf[self.hi..self.hi + want], from) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other?,
            }
        };
        self.hi += n;
        if n == 0 || from + n as u64 >= self.end {
            self.eof = true;
        }
        Ok(n > 0)
    }
}

/// The first line start after byte `at` of a file's bytes `[at, end)`: the end of the (perhaps
/// partial) line `at` falls in, or `end`. Read a few KiB at a time: where to cut a segment into
/// pieces costs one short read, not a chunk.
pub fn line_start_after(file: &File, at: u64, end: u64) -> io::Result<u64> {
    let mut lines = FileLines::with_buffer(file, at, end, 4096);
    lines.next_line()?;
    Ok(lines.position())
}

impl FileLines<'_> {
    /// Where the line starting `skip` bytes past `lo` ends (an index into `buf`), reading more
    /// as needed; None when no byte is left there. A refill moves the bytes from `lo` on to the
    /// front, which is why the start is given relative to `lo`. Without `may_grow`, also None
    /// when the line does not end inside the buffer at its present size.
    fn line_end(&mut self, skip: usize, may_grow: bool) -> io::Result<Option<usize>> {
        loop {
            let from = self.searched.max(self.lo + skip);
            if let Some(i) = memchr::memchr(b'\n', &self.buf[from..self.hi]) {
                return Ok(Some(from + i + 1));
            }
            self.searched = self.hi;
            if !may_grow && self.lo == 0 && self.hi == self.buf.len() {
                return Ok(None);
            }
            if self.eof || !self.refill()? {
                // No newline up to the end: what is left is a last, torn line.
                return Ok((self.lo + skip < self.hi).then_some(self.hi));
            }
        }
    }
}

impl LineFeed for FileLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        let Some(end) = self.line_end(0, true)? else { return Ok(None) };
        let start = self.lo;
        (self.lo, self.searched) = (end, end);
        Ok(Some((self.at + start as u64, &self.buf[start..end])))
    }

    fn next_two(&mut self) -> io::Result<(Option<Line<'_>>, Option<Line<'_>>)> {
        let Some(first_end) = self.line_end(0, true)? else { return Ok((None, None)) };
        let skip = first_end - self.lo;
        self.searched = first_end;
        let end = self.line_end(skip, false)?;
        // Indexes after the second search: it may have moved the bytes to the front.
        let (start, mid) = (self.lo, self.lo + skip);
        self.lo = end.unwrap_or(mid);
        self.searched = self.searched.max(self.lo);
        let at = |from: usize| self.at + from as u64;
        Ok((Some((at(start), &self.buf[start..mid])), end.map(|end| (at(mid), &self.buf[mid..end]))))
    }

    fn position(&self) -> u64 {
        self.at + self.lo as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn collect(feed: &mut dyn LineFeed) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        while let Some((at, line)) = feed.next_line().unwrap() {
            let (at, line) = (at, line.to_vec());
            assert_eq!(feed.position(), at + line.len() as u64);
            out.push((at, line));
        }
        out
    }

    /// The lines `feed` gives when asked for one or two at a time, as `pick` chooses.
    fn collect_mixed(feed: &mut dyn LineFeed, pick: &mut fastrand::Rng) -> Vec<(u64, Vec<u8>)> {
        let mut out = Vec::new();
        loop {
            if pick.bool() {
                let Some((at, line)) = feed.next_line().unwrap() else { break };
                out.push((at, line.to_vec()));
                continue;
            }
            let (first, second) = feed.next_two().unwrap();
            let Some((at, line)) = first else { break };
            let mut last = (at, line.to_vec());
            out.push(last.clone());
            if let Some((at, line)) = second {
                assert_eq!(at, last.0 + last.1.len() as u64, "the second line follows the first");
                last = (at, line.to_vec());
                out.push(last.clone());
            }
            assert_eq!(feed.position(), last.0 + last.1.len() as u64);
        }
        assert_eq!(feed.next_two().unwrap(), (None, None));
        out
    }

    #[test]
    fn file_lines_equal_slice_lines_for_every_shape() {
        let mut rng = fastrand::Rng::with_seed(5);
        for case in 0..300 {
            // Lines of random lengths, some longer than a chunk; sometimes a torn last line.
            let mut bytes = Vec::new();
            for _ in 0..rng.usize(0..40) {
                let len = if rng.u8(..) < 8 { rng.usize(CHUNK / 2..CHUNK * 2) } else { rng.usize(0..300) };
                bytes.extend((0..len).map(|_| b'a' + rng.u8(0..26)));
                bytes.push(b'\n');
            }
            if rng.bool() {
                bytes.extend((0..rng.usize(1..100)).map(|_| b'x'));
            }
            let mut file = tempfile::tempfile().unwrap();
            file.write_all(&bytes).unwrap();
            let start = if bytes.is_empty() || case % 3 != 0 {
                0
            } else {
                // Any line start.
                let starts: Vec<usize> =
                    std::iter::once(0).chain(memchr::memchr_iter(b'\n', &bytes).map(|i| i + 1)).collect();
                starts[rng.usize(0..starts.len())].min(bytes.len())
            };
            let want = collect(&mut SliceLines::new(&bytes, start));
            let got = collect(&mut FileLines::new(&file, start as u64, bytes.len() as u64));
            assert_eq!(got, want, "case {case}");
            // Two at a time (mixed with one at a time), whether or not the buffer holds both.
            let len = bytes.len() as u64;
            let mut pick = fastrand::Rng::with_seed(case);
            assert_eq!(collect_mixed(&mut FileLines::new(&file, start as u64, len), &mut pick), want, "case {case}");
            assert_eq!(collect_mixed(&mut SliceLines::new(&bytes, start), &mut pick), want, "case {case}");
            let small = rng.usize(1..600);
            let got = collect_mixed(&mut FileLines::with_buffer(&file, start as u64, len, small), &mut pick);
            assert_eq!(got, want, "case {case}, buffer {small}");
            // A bound inside the file ends the lines there, as if the file ended there.
            if let Some(&(at, _)) = want.get(want.len() / 2) {
                let cut = collect(&mut FileLines::new(&file, start as u64, at));
                assert_eq!(
                    cut,
                    collect(&mut SliceLines::new(&bytes[..usize::try_from(at).unwrap()], start)),
                    "case {case} cut at {at}"
                );
            }
        }
    }

    #[test]
    fn line_start_after_is_the_end_of_the_line_a_byte_falls_in() {
        let mut rng = fastrand::Rng::with_seed(6);
        let mut bytes = Vec::new();
        for _ in 0..200 {
            let len = if rng.u8(..) < 10 { rng.usize(4096..20_000) } else { rng.usize(0..200) };
            bytes.extend((0..len).map(|_| b'a'));
            bytes.push(b'\n');
        }
        bytes.extend(b"torn");
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        for _ in 0..500 {
            let at = rng.usize(0..=bytes.len());
            let want = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i + 1);
            assert_eq!(line_start_after(&file, at as u64, bytes.len() as u64).unwrap(), want as u64, "at {at}");
        }
    }

    #[test]
    fn a_file_shorter_than_its_snapshot_ends_where_its_bytes_end() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"one\ntwo\nthr").unwrap();
        let got = collect(&mut FileLines::new(&file, 0, 1000));
        assert_eq!(got, vec![(0, b"one\n".to_vec()), (4, b"two\n".to_vec()), (8, b"thr".to_vec())]);
        // Two at a time: a pair, then the torn last line alone.
        let mut lines = FileLines::new(&file, 0, 1000);
        assert_eq!(lines.next_two().unwrap(), (Some((0, b"one\n".as_slice())), Some((4, b"two\n".as_slice()))));
        assert_eq!(lines.next_two().unwrap(), (Some((8, b"thr".as_slice())), None));
        assert_eq!(lines.next_two().unwrap(), (None, None));
    }
}
