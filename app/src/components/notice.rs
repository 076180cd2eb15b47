//! The line above a section that says what an action did, or why it failed.

use leptos::{either::Either, prelude::*};

use crate::api::ApiError;

/// What an action did, or why it failed.
#[derive(Clone, Debug)]
pub enum Notice {
    Done(String),
    Failed(ApiError),
}

impl Notice {
    /// `Done(text)` when the action succeeded, `Failed(error)` when it did not.
    pub fn from_result(result: Result<String, ApiError>) -> Notice {
        match result {
            Ok(text) => Notice::Done(text),
            Err(error) => Notice::Failed(error),
        }
    }

    /// `<div class="notice ok" role="status">` with the text, or an [`ErrorNotice`].
    pub fn view(self) -> impl IntoView {
        match self {
            Notice::Done(text) => {
                Either::Left(view! { <div class="notice ok" role="status">{text}</div> })
            }
            Notice::Failed(error) => Either::Right(view! { <ErrorNotice error /> }),
        }
    }
}

/// The current notice, if any, following the signal.
#[component]
pub fn NoticeLine(notice: RwSignal<Option<Notice>>) -> impl IntoView {
    move || notice.get().map(Notice::view)
}

/// A failed load or action, with libvirt's or the server's message, and a way
/// back in when the session has expired.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    let login = matches!(error, ApiError::Unauthorized(_));
    view! {
        <div class="notice error" role="alert">
            <span>{error.to_string()}</span>
            {login.then(|| view! { <a href="/login">" Log in again"</a> })}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_render_as_before() {
        let done = Notice::from_result(Ok("Saved.".into())).view().to_html();
        assert_eq!(done, r#"<div role="status" class="notice ok">Saved.</div>"#);
        let failed = Notice::from_result(Err(ApiError::BadRequest("no".into())))
            .view()
            .to_html();
        // The empty `<!>` holds the place of the "Log in again" link.
        assert_eq!(
            failed,
            r#"<div role="alert" class="notice error"><span>no</span><!></div>"#
        );
    }
}
