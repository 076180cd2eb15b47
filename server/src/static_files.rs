//! The site's static files (`/pkg/…`: the wasm, its JS glue, the CSS):
//! compressed once (brotli and gzip files written beside each one at start,
//! when missing or older), served precompressed to browsers that accept it
//! (and LZMA copies of the WebAssembly a first visit loads, which the page's
//! own script decodes where the browser offers no brotli: `write_lzma`),
//! and, when cargo-leptos gave them content-hashed names, cached for a year
//! as immutable: a second visit downloads only the HTML.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    time::Instant,
};

use axum::{
    http::{header, HeaderValue},
    Router,
};
use tower_http::{services::ServeDir, set_header::SetResponseHeaderLayer};

/// Files worth compressing.
fn compressible(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("wasm" | "js" | "css" | "svg" | "json" | "html")
    )
}

fn stale(source: &Path, compressed: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(source), modified(compressed)) {
        (Some(s), Some(c)) => c < s,
        _ => true,
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!(
        "{}.tmp",
        path.extension().and_then(|e| e.to_str()).unwrap_or("")
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(tmp, path)
}

fn compress_one(path: &Path) -> std::io::Result<()> {
    let data = std::fs::read(path)?;
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    if stale(path, &gz) {
        // Zopfli writes plain gzip ~5 % smaller than `gzip -9` (what a
        // browser on plain HTTP downloads), at ~1 s of a core per 500 KB
        // of wasm, once per build. More iterations gain < 0.3 %.
        let options = zopfli::Options {
            iteration_count: std::num::NonZeroU64::MIN,
            ..Default::default()
        };
        let mut out = Vec::new();
        zopfli::compress(options, zopfli::Format::Gzip, data.as_slice(), &mut out)?;
        write_atomically(&gz, &out)?;
    }
    let br = PathBuf::from(format!("{}.br", path.display()));
    if stale(path, &br) {
        let mut out = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            lgwin: 22,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut data.as_slice(), &mut out, &params)?;
        write_atomically(&br, &out)?;
    }
    Ok(())
}

/// Writes `<file>.lzma` beside a WebAssembly file when missing or older: the
/// `.lzma` format (LZMA SDK's "lzma_alone": properties, dictionary size, the
/// decoded size, then the stream), decoded by the page's own script
/// (`app/src/lzma.js`). For browsers that offer no brotli — Chromium over
/// plain HTTP offers gzip only —, which would otherwise download the gzip
/// copy: 18–23 % smaller than it (the main module 197 → 162 KB, as small as
/// `xz -9e` makes it; 0.2 s of a core), a little smaller than brotli (167 KB).
fn lzma_one(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let lzma = PathBuf::from(format!("{}.lzma", path.display()));
    if !stale(path, &lzma) {
        return Ok(());
    }
    let data = std::fs::read(path)?;
    let mut options = lzma_rust2::LzmaOptions::with_preset(9);
    // The file fits in the window; a larger one (preset 9's 64 MiB) only
    // costs the encoder's memory (about ten times the window).
    options.dict_size = data.len().next_power_of_two().clamp(1 << 12, 1 << 26) as u32;
    let mut writer =
        lzma_rust2::LzmaWriter::new_use_header(Vec::new(), &options, Some(data.len() as u64))?;
    writer.write_all(&data)?;
    write_atomically(&lzma, &writer.finish()?)
}

/// Writes the LZMA copies of `files` that lack fresh ones (see `lzma_one`);
/// answers whether all are there.
pub fn write_lzma(files: &[PathBuf]) -> bool {
    for_each_file(files, lzma_one) == files.len()
}

/// Appends `n` as unsigned LEB128, WebAssembly's integer encoding.
fn leb128(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A WebAssembly module of custom sections only: each `(name, bytes)` one
/// section. Valid WebAssembly (that does nothing), so it is served as what
/// it holds, and the page's loader reads it back (`app/src/bundles.js`).
fn custom_sections<'a>(parts: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    for (name, bytes) in parts {
        let mut head = Vec::new();
        leb128(&mut head, name.len());
        head.extend_from_slice(name.as_bytes());
        out.push(0);
        leb128(&mut out, head.len() + bytes.len());
        out.extend_from_slice(&head);
        out.extend_from_slice(bytes);
    }
    out
}

/// Writes, for each split point of the chunk manifest (`manifest`, in
/// `dir`) with more than one chunk, a bundle of its chunks
/// (`bundle_<split>.<hash>.wasm`, the hash of the chunks' names: written
/// once per build, again when a chunk is newer — names without content
/// hashes stay the same from build to build) with its compressed copies;
/// answers split point → the bundle's name without `.wasm` (what the page's
/// HTML preloads, see `app::bundles`).
pub fn write_bundles(
    dir: &Path,
    manifest: &Path,
) -> std::io::Result<std::collections::HashMap<String, String>> {
    use sha2::{Digest, Sha256};
    let splits: std::collections::HashMap<String, Vec<String>> =
        serde_json::from_slice(&std::fs::read(manifest)?).map_err(std::io::Error::other)?;
    let mut bundles = std::collections::HashMap::new();
    let mut written = Vec::new();
    for (split, chunks) in splits {
        if chunks.len() < 2 {
            continue;
        }
        let hash = Sha256::digest(chunks.join("\n").as_bytes());
        let name = format!("bundle_{split}.{}", hex::encode(&hash[..12]));
        let path = dir.join(format!("{name}.wasm"));
        let files: Vec<String> = chunks.iter().map(|chunk| format!("{chunk}.wasm")).collect();
        if files.iter().any(|file| stale(&dir.join(file), &path)) {
            let contents = files
                .iter()
                .map(|file| std::fs::read(dir.join(file)))
                .collect::<std::io::Result<Vec<_>>>()?;
            let parts = files.iter().zip(&contents);
            write_atomically(
                &path,
                &custom_sections(parts.map(|(f, b)| (f.as_str(), b.as_slice()))),
            )?;
        }
        written.push(path);
        bundles.insert(split, name);
    }
    if for_each_file(&written, compress_one) < written.len() {
        return Err(std::io::Error::other("cannot write compressed copies"));
    }
    Ok(bundles)
}

/// Writes the compressed copies of `files` that lack fresh ones with
/// `write` (`compress_one`, `lzma_one`), one file at a time per core (zopfli
/// takes seconds for a whole build); answers how many are done.
fn for_each_file(files: &[PathBuf], write: fn(&Path) -> std::io::Result<()>) -> usize {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(files.len()) {
            scope.spawn(|| {
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match write(path) {
                        Ok(()) => {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tracing::warn!(
                            "cannot write compressed copies of {}: {e}",
                            path.display()
                        ),
                    }
                }
            });
        }
    });
    done.into_inner()
}

/// Writes `.br` and `.gz` beside every compressible file of `dir` that lacks
/// a fresh one (blocking; once per build).
pub fn precompress(dir: &Path) {
    let started = Instant::now();
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!("no static files at {}", dir.display());
        return;
    };
    let files: Vec<PathBuf> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && compressible(path))
        .collect();
    let done = for_each_file(&files, compress_one);
    tracing::info!(
        "static files in {} compressed ({done} files, {} ms)",
        dir.display(),
        started.elapsed().as_millis()
    );
}

/// `/pkg/…` served from `dir`, precompressed; immutable for a year when the
/// names carry content hashes, revalidated on every use when they do not.
pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path, hashed: bool) -> Router<S> {
    let cache = if hashed {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Router::new()
        .nest_service(
            "/pkg",
            ServeDir::new(dir).precompressed_br().precompressed_gzip(),
        )
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache),
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressed_copies_are_written_once_and_decode_to_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("app.js");
        let text = "console.log('hello');\n".repeat(500);
        std::fs::write(&file, &text).unwrap();
        std::fs::write(dir.path().join("image.png"), b"not text").unwrap();
        precompress(dir.path());
        let gz = std::fs::read(dir.path().join("app.js.gz")).unwrap();
        let br = std::fs::read(dir.path().join("app.js.br")).unwrap();
        assert!(gz.len() < text.len() / 10 && br.len() < text.len() / 10);
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(gz.as_slice()),
            &mut unzipped,
        )
        .unwrap();
        assert_eq!(unzipped, text);
        let mut unbrotli = Vec::new();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut unbrotli).unwrap();
        assert_eq!(unbrotli, text.as_bytes());
        assert!(!dir.path().join("image.png.gz").exists());
        // Up to date: not written again.
        let before = std::fs::metadata(dir.path().join("app.js.br"))
            .unwrap()
            .modified()
            .unwrap();
        precompress(dir.path());
        let after = std::fs::metadata(dir.path().join("app.js.br"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(before, after);
    }

    /// Reads a bundle back as the page's loader does: `(name, bytes)` per
    /// custom section, after the WebAssembly header.
    fn sections(bundle: &[u8]) -> Vec<(String, Vec<u8>)> {
        assert_eq!(&bundle[..8], b"\0asm\x01\0\0\0", "a WebAssembly header");
        let leb = |at: &mut usize| {
            let (mut n, mut shift) = (0usize, 0);
            loop {
                let byte = bundle[*at];
                *at += 1;
                n |= usize::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    return n;
                }
            }
        };
        let mut at = 8;
        let mut found = Vec::new();
        while at < bundle.len() {
            assert_eq!(bundle[at], 0, "custom sections only");
            at += 1;
            let size = leb(&mut at);
            let end = at + size;
            let length = leb(&mut at);
            let name = String::from_utf8(bundle[at..at + length].to_vec()).unwrap();
            found.push((name, bundle[at + length..end].to_vec()));
            at = end;
        }
        found
    }

    #[test]
    fn a_split_points_chunks_are_bundled_once_in_order_and_compressed() {
        let dir = tempfile::tempdir().unwrap();
        // A chunk over 127 bytes: its section size takes two LEB128 bytes.
        let big: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("chunk_1.aa.wasm"), b"one").unwrap();
        std::fs::write(dir.path().join("split_page_9.bb.wasm"), &big).unwrap();
        std::fs::write(dir.path().join("chunk_2.cc.wasm"), b"alone").unwrap();
        let manifest = dir.path().join("__wasm_split_manifest.x.json");
        std::fs::write(
            &manifest,
            r#"{"page_9":["chunk_1.aa","split_page_9.bb"],"small_3":["chunk_2.cc"]}"#,
        )
        .unwrap();

        let bundles = write_bundles(dir.path(), &manifest).unwrap();
        assert_eq!(
            bundles.len(),
            1,
            "a single chunk needs no bundle: {bundles:?}"
        );
        let name = &bundles["page_9"];
        assert!(name.starts_with("bundle_page_9."), "{name}");
        let file = dir.path().join(format!("{name}.wasm"));
        let bundle = std::fs::read(&file).unwrap();
        assert_eq!(
            sections(&bundle),
            [
                ("chunk_1.aa.wasm".to_string(), b"one".to_vec()),
                ("split_page_9.bb.wasm".to_string(), big),
            ]
        );
        let mut unbrotli = Vec::new();
        let br = std::fs::read(format!("{}.br", file.display())).unwrap();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut unbrotli).unwrap();
        assert_eq!(unbrotli, bundle);
        assert!(dir.path().join(format!("{name}.wasm.gz")).exists());

        // Once per build: the same chunks, the same file, not written again.
        let modified = || std::fs::metadata(&file).unwrap().modified().unwrap();
        let before = modified();
        assert_eq!(write_bundles(dir.path(), &manifest).unwrap(), bundles);
        assert_eq!(modified(), before);

        // A chunk rebuilt under the same name (names without content hashes):
        // the bundle is written again with it.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("chunk_1.aa.wasm"), b"two").unwrap();
        assert_eq!(write_bundles(dir.path(), &manifest).unwrap(), bundles);
        assert_eq!(sections(&std::fs::read(&file).unwrap())[0].1, b"two");
        let mut unbrotli = Vec::new();
        let br = std::fs::read(format!("{}.br", file.display())).unwrap();
        brotli::BrotliDecompress(&mut br.as_slice(), &mut unbrotli).unwrap();
        assert_eq!(sections(&unbrotli)[0].1, b"two", "its compressed copy too");

        // A chunk missing from the build: an error, no bundle.
        std::fs::write(&manifest, r#"{"page_9":["chunk_1.aa","chunk_7.zz"]}"#).unwrap();
        assert!(write_bundles(dir.path(), &manifest).is_err());
    }

    #[test]
    fn lzma_copies_hold_the_size_decode_to_the_file_and_are_written_once() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let wasm = dir.path().join("main.wasm");
        // Something like code: repetitive, not only one byte.
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8 & (i % 7) as u8)
            .collect();
        std::fs::write(&wasm, &data).unwrap();
        assert!(write_lzma(std::slice::from_ref(&wasm)));
        let lzma_path = dir.path().join("main.wasm.lzma");
        let lzma = std::fs::read(&lzma_path).unwrap();
        assert!(
            lzma.len() < data.len() / 2,
            "compressed: {} bytes",
            lzma.len()
        );
        assert_eq!(
            u64::from_le_bytes(lzma[5..13].try_into().unwrap()),
            data.len() as u64,
            "the decoded size is in the header (the page's decoder sizes its buffer by it)"
        );
        let mut decoded = Vec::new();
        lzma_rust2::LzmaReader::new_mem_limit(lzma.as_slice(), u32::MAX, None)
            .unwrap()
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, data);

        let written = std::fs::metadata(&lzma_path).unwrap().modified().unwrap();
        assert!(write_lzma(std::slice::from_ref(&wasm)));
        assert_eq!(
            std::fs::metadata(&lzma_path).unwrap().modified().unwrap(),
            written,
            "a fresh copy is not written again"
        );
        assert!(
            !write_lzma(&[dir.path().join("missing.wasm")]),
            "a missing file is not done"
        );
    }
}
