//! Uploading a local file into a volume with progress: an `XMLHttpRequest`
//! streaming the file as the request body (the browser reads it from disk as
//! it goes; nothing is held in memory). Browser only.

#[cfg(feature = "hydrate")]
use crate::api::{volumes::VolumeSummary, ApiError};

/// Bytes sent so far and in all.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Progress {
    pub sent: f64,
    pub total: f64,
}

/// A running upload; dropping it does not stop it, `abort` does.
#[derive(Clone)]
pub struct Upload {
    #[cfg(feature = "hydrate")]
    xhr: send_wrapper::SendWrapper<web_sys::XmlHttpRequest>,
}

impl Upload {
    pub fn abort(&self) {
        #[cfg(feature = "hydrate")]
        let _ = self.xhr.abort();
    }
}

/// Sends the file chosen in `input` to `url` (a `PUT /api/volumes/upload?…`).
#[cfg(feature = "hydrate")]
pub fn start(
    url: &str,
    input: &web_sys::HtmlInputElement,
    on_progress: impl Fn(Progress) + 'static,
    on_done: impl FnOnce(Result<VolumeSummary, ApiError>) + 'static,
) -> Result<Upload, ApiError> {
    use std::{cell::RefCell, rc::Rc};
    use wasm_bindgen::{closure::Closure, JsCast};

    let file = input
        .files()
        .and_then(|f| f.get(0))
        .ok_or_else(|| ApiError::BadRequest("choose a file first".into()))?;
    let broken = |e: wasm_bindgen::JsValue| {
        ApiError::Network(format!("the browser cannot start the upload: {e:?}"))
    };
    let xhr = web_sys::XmlHttpRequest::new().map_err(broken)?;
    xhr.open("PUT", url).map_err(broken)?;
    xhr.set_request_header("content-type", "application/octet-stream")
        .map_err(broken)?;

    let progress =
        Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |e: web_sys::ProgressEvent| {
            on_progress(Progress {
                sent: e.loaded(),
                total: e.total(),
            })
        });
    xhr.upload()
        .map_err(broken)?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    progress.forget();

    type Done = Box<dyn FnOnce(Result<VolumeSummary, ApiError>)>;
    let done: Rc<RefCell<Option<Done>>> = Rc::new(RefCell::new(Some(Box::new(on_done))));
    let finish = {
        let done = done.clone();
        move |result: Result<VolumeSummary, ApiError>| {
            if let Some(f) = done.borrow_mut().take() {
                f(result)
            }
        }
    };
    let on_load = {
        let xhr = xhr.clone();
        let finish = finish.clone();
        Closure::<dyn FnMut()>::new(move || {
            let text = xhr.response_text().ok().flatten().unwrap_or_default();
            let status = xhr.status().unwrap_or(0);
            let result = if (200..300).contains(&status) {
                serde_json::from_str::<VolumeSummary>(&text)
                    .map_err(|e| ApiError::Network(format!("unexpected answer: {e}")))
            } else {
                Err(serde_json::from_str::<ApiError>(&text).unwrap_or_else(|_| {
                    ApiError::Network(format!("the upload failed with HTTP status {status}"))
                }))
            };
            finish(result)
        })
    };
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    on_load.forget();
    let on_error = {
        let finish = finish.clone();
        Closure::<dyn FnMut()>::new(move || {
            finish(Err(ApiError::Network(
                "the connection to the server broke during the upload".into(),
            )))
        })
    };
    xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    on_error.forget();
    let on_abort = Closure::<dyn FnMut()>::new(move || {
        finish(Err(ApiError::BadRequest("the upload was cancelled".into())))
    });
    xhr.set_onabort(Some(on_abort.as_ref().unchecked_ref()));
    on_abort.forget();

    xhr.send_with_opt_blob(Some(&file)).map_err(broken)?;
    Ok(Upload {
        xhr: send_wrapper::SendWrapper::new(xhr),
    })
}

/// A file name made into a valid volume name: other characters become `_`.
pub fn volume_name_from_file(file_name: &str) -> String {
    let mut name: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect();
    while name.starts_with(['.', '-']) {
        name.remove(0);
    }
    name
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_become_volume_names() {
        assert_eq!(
            super::volume_name_from_file("Debian 12 (netinst).iso"),
            "Debian_12__netinst_.iso"
        );
        assert_eq!(super::volume_name_from_file(".-x.img"), "x.img");
    }
}
