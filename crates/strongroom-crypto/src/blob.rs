//! The blob format (`SRBLOB` v1): streaming, segmented AEAD for files of any
//! size in constant memory, with random access to any segment.
//!
//! ```text
//! header:   "SRBLOB" | 0x01 format | 0x01 algorithm | segment size (u32 BE)
//!           | salt (32) | nonce prefix (7) | wrapped-DEK length (u16 BE) | wrapped DEK
//! segments: AES-256-GCM(blob key, nonce = prefix || index (u32 BE) || last (0x00/0x01),
//!                       no associated data, plaintext segment) — each `segment size`
//!           plaintext bytes plus a 16-byte tag; the last holds 1..=segment size bytes
//!           (0 only when the whole blob is empty) and carries last = 0x01.
//! blob key: HKDF-SHA256(ikm = DEK, salt = salt,
//!                       info = "strongroom/blob/v1" || SHA-256(header)) → 32 bytes
//! ```
//!
//! What each part defends (STREAM construction, Hoang–Reyhanitabar–Rogaway–Vizár):
//! the index in the nonce detects reordering and dropped segments; the last
//! flag detects truncation at a segment boundary and data appended after the
//! end; the per-blob key (fresh salt, header hash in the HKDF info) makes a
//! segment copied from another blob, or any change to the header, fail.
//!
//! Invariant: the format is public (docs/formats.md, vectors in
//! `tests/vectors/`). Change it only with a new format byte.

use std::io::{self, Read, Write};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::digest::{SHA256, digest};
use ring::hkdf::{HKDF_SHA256, Salt};

use crate::{CryptoError, SecretKey, random_bytes};

const MAGIC: &[u8; 6] = b"SRBLOB";
const FORMAT_V1: u8 = 0x01;
const ALG_AES_256_GCM_HKDF_SHA256: u8 = 0x01;
const SALT_LEN: usize = 32;
const PREFIX_LEN: usize = 7;
const HKDF_INFO_LABEL: &[u8] = b"strongroom/blob/v1";

/// Bytes of the header before the wrapped DEK.
pub const FIXED_HEADER_LEN: usize = 6 + 1 + 1 + 4 + SALT_LEN + PREFIX_LEN + 2;
/// Bytes each segment adds (the GCM tag).
pub const SEGMENT_OVERHEAD: usize = 16;
/// The segment size used unless the caller picks another: large enough that
/// the tag costs 0.02 %, small enough that a range read decrypts little extra.
pub const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
/// Smallest accepted segment size (small sizes only make sense in tests and vectors).
pub const MIN_SEGMENT_SIZE: u32 = 16;
/// Largest accepted segment size, which bounds a reader's memory.
pub const MAX_SEGMENT_SIZE: u32 = 16 * 1024 * 1024;

fn invalid_input(message: &'static str) -> CryptoError {
    CryptoError::InvalidKey(message)
}

/// A parsed blob header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobHeader {
    segment_size: u32,
    nonce_prefix: [u8; PREFIX_LEN],
    salt: [u8; SALT_LEN],
    wrapped_dek_len: usize,
    encoded: Vec<u8>,
}

impl BlobHeader {
    /// The whole header's length, read from its first [`FIXED_HEADER_LEN`] bytes,
    /// so a streaming reader knows how much more to read.
    pub fn encoded_len(fixed: &[u8]) -> Result<usize, CryptoError> {
        let fixed = fixed.get(..FIXED_HEADER_LEN).ok_or(CryptoError::Decrypt)?;
        if &fixed[..6] != MAGIC || fixed[6] != FORMAT_V1 || fixed[7] != ALG_AES_256_GCM_HKDF_SHA256 {
            return Err(CryptoError::Decrypt);
        }
        let wrapped_len = u16::from_be_bytes([fixed[FIXED_HEADER_LEN - 2], fixed[FIXED_HEADER_LEN - 1]]);
        Ok(FIXED_HEADER_LEN + usize::from(wrapped_len))
    }

    /// Parses the header at the start of `bytes` (which may continue with segments).
    pub fn parse(bytes: &[u8]) -> Result<Self, CryptoError> {
        let len = Self::encoded_len(bytes)?;
        let encoded = bytes.get(..len).ok_or(CryptoError::Decrypt)?.to_vec();
        let segment_size = u32::from_be_bytes([encoded[8], encoded[9], encoded[10], encoded[11]]);
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(CryptoError::Decrypt);
        }
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&encoded[12..12 + SALT_LEN]);
        let mut nonce_prefix = [0u8; PREFIX_LEN];
        nonce_prefix.copy_from_slice(&encoded[12 + SALT_LEN..12 + SALT_LEN + PREFIX_LEN]);
        Ok(Self { segment_size, nonce_prefix, salt, wrapped_dek_len: len - FIXED_HEADER_LEN, encoded })
    }

    fn build(
        segment_size: u32,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; PREFIX_LEN],
        wrapped_dek: &[u8],
    ) -> Result<Self, CryptoError> {
        if !(MIN_SEGMENT_SIZE..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(invalid_input("blob segment size must be between 16 B and 16 MiB"));
        }
        let wrapped_len =
            u16::try_from(wrapped_dek.len()).map_err(|_| invalid_input("a wrapped DEK is at most 65535 bytes"))?;
        let mut encoded = Vec::with_capacity(FIXED_HEADER_LEN + wrapped_dek.len());
        encoded.extend_from_slice(MAGIC);
        encoded.extend_from_slice(&[FORMAT_V1, ALG_AES_256_GCM_HKDF_SHA256]);
        encoded.extend_from_slice(&segment_size.to_be_bytes());
        encoded.extend_from_slice(&salt);
        encoded.extend_from_slice(&nonce_prefix);
        encoded.extend_from_slice(&wrapped_len.to_be_bytes());
        encoded.extend_from_slice(wrapped_dek);
        Self::parse(&encoded)
    }

    /// The encoded header, to be written before the first segment.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    /// The data key, wrapped by whichever key the caller used; unwrap it to open the blob.
    pub fn wrapped_dek(&self) -> &[u8] {
        &self.encoded[FIXED_HEADER_LEN..FIXED_HEADER_LEN + self.wrapped_dek_len]
    }

    /// Plaintext bytes per segment.
    pub fn segment_size(&self) -> u32 {
        self.segment_size
    }

    fn blob_key(&self, dek: &SecretKey) -> LessSafeKey {
        let header_hash = digest(&SHA256, &self.encoded);
        let info = [HKDF_INFO_LABEL, header_hash.as_ref()];
        let prk = Salt::new(HKDF_SHA256, &self.salt).extract(dek.expose());
        let okm = prk
            .expand(&info, &AES_256_GCM)
            // Invariant: 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
            .expect("HKDF output length is valid");
        LessSafeKey::new(UnboundKey::from(okm))
    }

    fn nonce(&self, index: u32, last: bool) -> Nonce {
        let mut bytes = [0u8; 12];
        bytes[..PREFIX_LEN].copy_from_slice(&self.nonce_prefix);
        bytes[PREFIX_LEN..11].copy_from_slice(&index.to_be_bytes());
        bytes[11] = u8::from(last);
        Nonce::assume_unique_for_key(bytes)
    }
}

/// Encrypts a blob segment by segment.
pub struct BlobSealer {
    header: BlobHeader,
    key: LessSafeKey,
    next_index: u32,
    finished: bool,
}

impl std::fmt::Debug for BlobSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobSealer").field("next_index", &self.next_index).finish_non_exhaustive()
    }
}

impl BlobSealer {
    /// Starts a blob under `dek` (stored as `wrapped_dek` in the header) with
    /// a fresh salt and nonce prefix. Write `header().encoded()` first.
    pub fn new(dek: &SecretKey, wrapped_dek: &[u8], segment_size: u32) -> Result<Self, CryptoError> {
        Self::with_randomness(dek, wrapped_dek, segment_size, random_bytes()?, random_bytes()?)
    }

    fn with_randomness(
        dek: &SecretKey,
        wrapped_dek: &[u8],
        segment_size: u32,
        salt: [u8; SALT_LEN],
        nonce_prefix: [u8; PREFIX_LEN],
    ) -> Result<Self, CryptoError> {
        let header = BlobHeader::build(segment_size, salt, nonce_prefix, wrapped_dek)?;
        let key = header.blob_key(dek);
        Ok(Self { header, key, next_index: 0, finished: false })
    }

    /// The header to write before the segments.
    pub fn header(&self) -> &BlobHeader {
        &self.header
    }

    /// Encrypts the next segment in place (appending its tag). Every segment
    /// but the last must be exactly the segment size; the last may be shorter.
    pub fn seal_segment(&mut self, segment: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        let size = self.header.segment_size as usize;
        if self.finished {
            return Err(invalid_input("the blob already has its last segment"));
        }
        if segment.len() > size || (!last && segment.len() != size) {
            return Err(invalid_input("only the last blob segment may be shorter than the segment size"));
        }
        if segment.is_empty() && self.next_index > 0 {
            return Err(invalid_input("an empty last segment is only valid for an empty blob"));
        }
        let nonce = self.header.nonce(self.next_index, last);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::empty(), segment)
            .map_err(|_| invalid_input("segment too large for AES-GCM"))?;
        segment.extend_from_slice(tag.as_ref());
        self.next_index =
            self.next_index.checked_add(1).ok_or_else(|| invalid_input("a blob has at most 2^32 segments"))?;
        self.finished = last;
        Ok(())
    }
}

/// Decrypts any segment of a blob.
pub struct BlobOpener {
    header: BlobHeader,
    key: LessSafeKey,
}

impl std::fmt::Debug for BlobOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobOpener").field("segment_size", &self.header.segment_size).finish_non_exhaustive()
    }
}

impl BlobOpener {
    /// Prepares to open the blob of `header` with its unwrapped `dek`.
    pub fn new(header: BlobHeader, dek: &SecretKey) -> Self {
        let key = header.blob_key(dek);
        Self { header, key }
    }

    /// Decrypts segment `index` in place (removing its tag). `last` must say
    /// whether this is the blob's final segment; a wrong claim fails.
    pub fn open_segment(&self, index: u32, segment: &mut Vec<u8>, last: bool) -> Result<(), CryptoError> {
        if segment.len() < SEGMENT_OVERHEAD || segment.len() > self.header.segment_size as usize + SEGMENT_OVERHEAD {
            return Err(CryptoError::Decrypt);
        }
        let nonce = self.header.nonce(index, last);
        let plain_len = self.key.open_in_place(nonce, Aad::empty(), segment).map_err(|_| CryptoError::Decrypt)?.len();
        segment.truncate(plain_len);
        Ok(())
    }

    /// Where segments lie in a stored blob of `blob_len` bytes, for range reads.
    /// Fails if no blob of this segment size can have that length.
    pub fn layout(&self, blob_len: u64) -> Result<BlobLayout, CryptoError> {
        let header_len = self.header.encoded.len() as u64;
        let stride = u64::from(self.header.segment_size) + SEGMENT_OVERHEAD as u64;
        let body = blob_len.checked_sub(header_len).ok_or(CryptoError::Decrypt)?;
        if body < SEGMENT_OVERHEAD as u64 {
            return Err(CryptoError::Decrypt);
        }
        let segments = body.div_ceil(stride);
        let last_len = body - (segments - 1) * stride;
        if last_len < SEGMENT_OVERHEAD as u64 || (last_len == SEGMENT_OVERHEAD as u64 && segments > 1) {
            return Err(CryptoError::Decrypt);
        }
        if segments > u64::from(u32::MAX) + 1 {
            return Err(CryptoError::Decrypt);
        }
        Ok(BlobLayout {
            header_len,
            stride,
            segments,
            plaintext_len: body - segments * SEGMENT_OVERHEAD as u64,
            segment_size: u64::from(self.header.segment_size),
        })
    }
}

/// The geometry of a stored blob (see [`BlobOpener::layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLayout {
    header_len: u64,
    stride: u64,
    segments: u64,
    plaintext_len: u64,
    segment_size: u64,
}

impl BlobLayout {
    /// Plaintext length the stored length implies. Trust it only after the
    /// last segment opened with `last = true`.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Number of segments.
    pub fn segments(&self) -> u64 {
        self.segments
    }

    /// The segment holding plaintext byte `offset`.
    pub fn segment_of(&self, offset: u64) -> u32 {
        // Invariant: layout() refuses blobs with more than 2^32 segments.
        u32::try_from((offset / self.segment_size).min(self.segments - 1)).expect("segment index fits u32")
    }

    /// Byte range `(start, length)` of segment `index` within the stored blob.
    pub fn segment_range(&self, index: u32) -> (u64, u64) {
        let start = self.header_len + u64::from(index) * self.stride;
        let end =
            (start + self.stride).min(self.header_len + self.plaintext_len + self.segments * SEGMENT_OVERHEAD as u64);
        (start, end - start)
    }

    /// Whether `index` is the final segment.
    pub fn is_last(&self, index: u32) -> bool {
        u64::from(index) + 1 == self.segments
    }

    /// Plaintext offset of the first byte of segment `index`.
    pub fn plaintext_start(&self, index: u32) -> u64 {
        u64::from(index) * self.segment_size
    }
}

fn io_error(error: CryptoError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// Encrypts everything written to it into `inner`, holding at most one
/// segment in memory. Call [`finish`](Self::finish): a blob whose writer was
/// dropped unfinished has no last segment and every reader rejects it.
#[derive(Debug)]
pub struct EncryptingWriter<W: Write> {
    inner: W,
    sealer: BlobSealer,
    buffer: Vec<u8>,
}

impl<W: Write> EncryptingWriter<W> {
    /// Writes the header to `inner` and returns the writer.
    pub fn new(mut inner: W, sealer: BlobSealer) -> io::Result<Self> {
        inner.write_all(sealer.header().encoded())?;
        let capacity = sealer.header().segment_size() as usize + SEGMENT_OVERHEAD;
        Ok(Self { inner, sealer, buffer: Vec::with_capacity(capacity) })
    }

    /// Seals the last segment and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.sealer.seal_segment(&mut self.buffer, true).map_err(io_error)?;
        self.inner.write_all(&self.buffer)?;
        self.buffer.clear();
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        let size = self.sealer.header().segment_size() as usize;
        // A full segment is held back until more data shows it is not the last.
        if self.buffer.len() == size {
            self.sealer.seal_segment(&mut self.buffer, false).map_err(io_error)?;
            self.inner.write_all(&self.buffer)?;
            self.buffer.clear();
        }
        let take = data.len().min(size - self.buffer.len());
        self.buffer.extend_from_slice(&data[..take]);
        Ok(take)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Decrypts a blob read from `inner`, one segment at a time. Any tampering,
/// truncation or trailing data is an `InvalidData` error; plaintext already
/// returned came from authentic segments, but only end-of-file (`Ok(0)`)
/// proves the blob was complete.
#[derive(Debug)]
pub struct DecryptingReader<R: Read> {
    inner: R,
    opener: BlobOpener,
    index: u32,
    plaintext: Vec<u8>,
    position: usize,
    lookahead: Option<u8>,
    done: bool,
}

impl<R: Read> DecryptingReader<R> {
    /// Reads the header from `inner`, asks `unwrap_dek` for the data key
    /// (given the wrapped one) and returns the reader.
    pub fn new(mut inner: R, unwrap_dek: impl FnOnce(&[u8]) -> Result<SecretKey, CryptoError>) -> io::Result<Self> {
        let mut fixed = [0u8; FIXED_HEADER_LEN];
        inner.read_exact(&mut fixed).map_err(|_| io_error(CryptoError::Decrypt))?;
        let total = BlobHeader::encoded_len(&fixed).map_err(io_error)?;
        let mut encoded = fixed.to_vec();
        encoded.resize(total, 0);
        inner.read_exact(&mut encoded[FIXED_HEADER_LEN..]).map_err(|_| io_error(CryptoError::Decrypt))?;
        let header = BlobHeader::parse(&encoded).map_err(io_error)?;
        let dek = unwrap_dek(header.wrapped_dek()).map_err(io_error)?;
        let capacity = header.segment_size() as usize + SEGMENT_OVERHEAD;
        Ok(Self {
            inner,
            opener: BlobOpener::new(header, &dek),
            index: 0,
            plaintext: Vec::with_capacity(capacity),
            position: 0,
            lookahead: None,
            done: false,
        })
    }

    fn next_segment(&mut self) -> io::Result<()> {
        let stride = self.opener.header.segment_size() as usize + SEGMENT_OVERHEAD;
        self.plaintext.clear();
        self.position = 0;
        if let Some(byte) = self.lookahead.take() {
            self.plaintext.push(byte);
        }
        fill(&mut self.inner, &mut self.plaintext, stride)?;
        let last = if self.plaintext.len() < stride {
            true
        } else {
            let mut probe = [0u8; 1];
            let more = read_some(&mut self.inner, &mut probe)?;
            if more == 1 {
                self.lookahead = Some(probe[0]);
            }
            more == 0
        };
        // An empty last segment is only the encoding of an empty blob;
        // refusing it elsewhere keeps one encoding per plaintext, as layout() does.
        if last && self.index > 0 && self.plaintext.len() == SEGMENT_OVERHEAD {
            return Err(io_error(CryptoError::Decrypt));
        }
        self.opener.open_segment(self.index, &mut self.plaintext, last).map_err(io_error)?;
        if last {
            self.done = true;
        } else {
            self.index = self.index.checked_add(1).ok_or_else(|| io_error(CryptoError::Decrypt))?;
        }
        Ok(())
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.position == self.plaintext.len() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            self.next_segment()?;
        }
        let available = &self.plaintext[self.position..];
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.position += n;
        Ok(n)
    }
}

/// Reads until `buffer` holds `target` bytes or the input ends.
fn fill(reader: &mut impl Read, buffer: &mut Vec<u8>, target: usize) -> io::Result<()> {
    let start = buffer.len();
    buffer.resize(target, 0);
    let mut filled = start;
    while filled < target {
        match read_some(reader, &mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    buffer.truncate(filled);
    Ok(())
}

fn read_some(reader: &mut impl Read, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(out) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEK: [u8; 32] = [0x11; 32];

    fn encrypt(plaintext: &[u8], segment_size: u32, seed: u8) -> Vec<u8> {
        let sealer =
            BlobSealer::with_randomness(&SecretKey::from_bytes(DEK), b"wrapped", segment_size, [seed; 32], [seed; 7])
                .unwrap();
        let mut writer = EncryptingWriter::new(Vec::new(), sealer).unwrap();
        // Uneven write sizes exercise the segment buffering.
        for chunk in plaintext.chunks(7) {
            writer.write_all(chunk).unwrap();
        }
        writer.finish().unwrap()
    }

    fn decrypt(blob: &[u8]) -> io::Result<Vec<u8>> {
        // The DEK is returned whatever the wrapped bytes say, so that a change
        // there must be caught by the format itself (the header hash in HKDF).
        let mut reader = DecryptingReader::new(blob, |_wrapped| Ok(SecretKey::from_bytes(DEK)))?;
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_at_and_around_segment_boundaries() {
        for len in [0usize, 1, 31, 32, 33, 64, 65, 200] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let blob = encrypt(&plaintext, 32, 1);
            assert_eq!(decrypt(&blob).unwrap(), plaintext, "length {len}");
        }
    }

    #[test]
    fn fail_truncation_at_every_length() {
        let blob = encrypt(&[9u8; 100], 32, 1);
        for cut in 0..blob.len() {
            assert!(decrypt(&blob[..cut]).is_err(), "truncation to {cut} bytes not detected");
        }
    }

    #[test]
    fn fail_extension_reordering_and_swaps_between_blobs() {
        let a = encrypt(&[1u8; 100], 32, 1);
        let b = encrypt(&[1u8; 100], 32, 2);
        let header = FIXED_HEADER_LEN + b"wrapped".len();
        let stride = 32 + SEGMENT_OVERHEAD;
        let mut extended = a.clone();
        extended.push(0);
        assert!(decrypt(&extended).is_err(), "trailing byte");
        let mut appended = a.clone();
        appended.extend_from_slice(&a[header..header + stride]);
        assert!(decrypt(&appended).is_err(), "appended segment");
        let mut reordered = a.clone();
        reordered[header..header + stride].copy_from_slice(&a[header + stride..header + 2 * stride]);
        reordered[header + stride..header + 2 * stride].copy_from_slice(&a[header..header + stride]);
        assert!(decrypt(&reordered).is_err(), "reordered segments");
        let mut swapped = a.clone();
        swapped[header..header + stride].copy_from_slice(&b[header..header + stride]);
        assert!(decrypt(&swapped).is_err(), "segment from another blob");
        let mut dropped = a[..header + stride].to_vec();
        dropped.extend_from_slice(&a[header + 2 * stride..]);
        assert!(decrypt(&dropped).is_err(), "dropped segment");
    }

    #[test]
    fn fail_any_single_bit_flip() {
        let blob = encrypt(&[5u8; 70], 32, 1);
        for byte in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[byte] ^= 0x80;
            assert!(decrypt(&tampered).is_err(), "flip in byte {byte} not detected");
        }
    }

    #[test]
    fn random_access_reads_any_segment() {
        let plaintext: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let blob = encrypt(&plaintext, 64, 3);
        let header = BlobHeader::parse(&blob).unwrap();
        let opener = BlobOpener::new(header, &SecretKey::from_bytes(DEK));
        let layout = opener.layout(blob.len() as u64).unwrap();
        assert_eq!(layout.plaintext_len(), 1000);
        let offset = 700;
        let index = layout.segment_of(offset);
        let (start, len) = layout.segment_range(index);
        let mut segment = blob[start as usize..(start + len) as usize].to_vec();
        opener.open_segment(index, &mut segment, layout.is_last(index)).unwrap();
        let begin = layout.plaintext_start(index) as usize;
        assert_eq!(segment, plaintext[begin..begin + segment.len()]);
        let last = (layout.segments() - 1) as u32;
        let (start, len) = layout.segment_range(last);
        let mut tail = blob[start as usize..(start + len) as usize].to_vec();
        assert!(opener.open_segment(last, &mut tail.clone(), false).is_err(), "last flag is authenticated");
        opener.open_segment(last, &mut tail, true).unwrap();
        assert_eq!(tail, plaintext[layout.plaintext_start(last) as usize..]);
    }

    #[test]
    fn fail_wrong_data_key() {
        let blob = encrypt(b"audio", 32, 1);
        let result = DecryptingReader::new(&blob[..], |_| Ok(SecretKey::from_bytes([0x22; 32])))
            .and_then(|mut reader| reader.read_to_end(&mut Vec::new()));
        assert!(result.is_err());
    }

    #[test]
    fn fail_misuse_of_the_sealer() {
        let mut sealer = BlobSealer::new(&SecretKey::from_bytes(DEK), b"w", 32).unwrap();
        assert!(sealer.seal_segment(&mut vec![0; 10], false).is_err(), "short non-last segment");
        sealer.seal_segment(&mut vec![0; 10], true).unwrap();
        assert!(sealer.seal_segment(&mut vec![0; 10], true).is_err(), "segment after the last");
        assert!(BlobSealer::new(&SecretKey::from_bytes(DEK), b"w", 8).is_err(), "segment size too small");
    }

    #[test]
    fn matches_the_published_vectors() {
        let text = include_str!("../tests/vectors/blob_v1.txt");
        let mut checked = 0;
        for block in text.split("\n\n").filter(|b| b.contains("blob:")) {
            let field = |name: &str| {
                block.lines().find_map(|l| l.strip_prefix(&format!("{name}: "))).map(str::trim).unwrap_or_default()
            };
            let blob = crate::from_hex(field("blob")).unwrap();
            let dek = SecretKey::from_slice(&crate::from_hex(field("dek")).unwrap()).unwrap();
            let result = DecryptingReader::new(&blob[..], |_| Ok(SecretKey::from_slice(dek.expose()).unwrap()))
                .and_then(|mut reader| {
                    let mut out = Vec::new();
                    reader.read_to_end(&mut out).map(|_| out)
                });
            match field("result") {
                "ok" => assert_eq!(result.unwrap(), crate::from_hex(field("plaintext")).unwrap(), "{}", field("name")),
                _ => assert!(result.is_err(), "vector {} must fail", field("name")),
            }
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} vectors found");
    }
}
