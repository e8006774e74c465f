//! Where blob ciphertext is kept, behind core's [`BlobStorage`] port: a
//! directory on local disk ([`DiskBlobs`], the default) or any S3-compatible
//! object store ([`S3Blobs`], tested against moto's S3).
//!
//! Objects are ciphertext only (`SRBLOB` v1, sealed before they get here),
//! and a name is visible only once its upload finished: the disk writes a
//! `.part` file and renames it; S3 completes a multipart upload. An aborted
//! upload leaves nothing behind; what a killed process left is swept.
//!
//! Each backend sorts its failures into [`BlobError`] once: a missing
//! object (data loss), unavailable (transient), full, or failed (a bug or
//! a setup fault); the server answers each kind in one way.

mod disk;
mod s3;

pub use disk::DiskBlobs;
pub use s3::{S3Blobs, S3Settings};
pub use strongroom_core::records::{BlobError, BlobReader, BlobStorage, BlobUpload};

/// Object names are made by the server (`collection/record/field/hex`);
/// anything else is refused, so no name can climb out of its directory or
/// bucket prefix.
pub(crate) fn check_name(name: &str) -> Result<(), strongroom_core::records::BlobError> {
    let valid = !name.is_empty()
        && name.len() <= 512
        && name.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if valid {
        Ok(())
    } else {
        Err(strongroom_core::records::BlobError::Failed(format!("invalid object name {name:?}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_names_are_objects() {
        assert!(check_name("recordings/r_01/audio/ab12").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "a/./b", "a b", "a\0b", "..", &"x/".repeat(300)] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
