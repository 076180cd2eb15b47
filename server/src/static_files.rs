//! The site's static files (`/pkg/…`: the wasm, its JS glue, the CSS):
//! compressed once (brotli and gzip files written beside each one at start,
//! when missing or older), served precompressed to browsers that accept it,
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
    // One file at a time per core: zopfli takes seconds for a whole build.
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(files.len()) {
            scope.spawn(|| {
                while let Some(path) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match compress_one(path) {
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
    let done = done.into_inner();
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
}
