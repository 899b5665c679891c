//! Reads attachments through contract 0.2 (`details.name` picks the probe):
//! - `all`: every attachment of every page and blog post of the migration's spaces,
//!   uploaded as JSON lines of its metadata, the bytes read and an FNV-1a hash of them;
//! - `outside:<id>`: lists and reads attachment `<id>` and reports the errors;
//! - `greedy`: asks for 4 GiB of the first attachment in one call and reports the length.

use ferry_sdk::{attachments, product, upload, Error, MigrationDetails, Outcome, Plugin};

fn fnv1a(bytes: &[u8], mut hash: u64) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

fn first_attachment(details: &MigrationDetails) -> Result<Option<attachments::Attachment>, Error> {
    for space in &details.spaces {
        for node in product::page_tree(space) {
            if let Some(a) = attachments::list(&node?.id)?.into_iter().next() {
                return Ok(Some(a));
            }
        }
    }
    Ok(None)
}

struct AttachmentProbe;

impl Plugin for AttachmentProbe {
    fn run(details: &MigrationDetails) -> Result<Outcome, Error> {
        match details.name.as_str() {
            "all" => {
                let mut out = upload::JsonLines::new("attachments.jsonl");
                for space in &details.spaces {
                    for node in product::page_tree(space) {
                        for a in attachments::list(&node?.id)? {
                            let (mut read, mut hash, mut missing) = (0u64, 0xcbf29ce484222325u64, None);
                            for chunk in attachments::chunks(&a.id) {
                                match chunk {
                                    Ok(chunk) => {
                                        read += chunk.len() as u64;
                                        hash = fnv1a(&chunk, hash);
                                    }
                                    // A file missing on the Server is the host's not-found, not a crash.
                                    Err(Error::NotFound(why)) => missing = Some(why),
                                    Err(e) => return Err(e),
                                }
                            }
                            out.push(&serde_json::json!({
                                "id": a.id, "content_id": a.content_id, "file_name": a.file_name,
                                "media_type": a.media_type, "size": a.size, "version": a.version,
                                "read": read, "fnv": format!("{hash:016x}"), "missing": missing,
                            }))?;
                        }
                    }
                }
                out.finish()?;
                Ok(Outcome::Complete)
            }
            name if name.starts_with("outside:") => {
                let id = name["outside:".len()..].to_string();
                let listed = attachments::list(&id).err().map(|e| e.to_string()).unwrap_or_else(|| "listed".into());
                let read = attachments::read(&id, 0, 16).err().map(|e| e.to_string()).unwrap_or_else(|| "read".into());
                Ok(Outcome::Incomplete(format!("list: {listed}; read: {read}")))
            }
            "greedy" => {
                let Some(a) = first_attachment(details)? else { return Ok(Outcome::Incomplete("no attachment".into())) };
                let got = attachments::read(&a.id, 0, u32::MAX)?.len();
                Ok(Outcome::Incomplete(format!("asked 4294967295, got {got} of {}", a.size)))
            }
            other => Err(Error::msg(format!("unknown probe {other}"))),
        }
    }
}

ferry_sdk::export_plugin!(AttachmentProbe);
