// What both console pages share: the socket's URL, the status line, the
// close reasons as a person reads them, and starting after Leptos has
// hydrated the page (so the terminal or canvas is not in hydration's way).

/** The console socket's URL on this server (ws: or wss: as the page). */
export function socketUrl(kind, params) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const query = new URLSearchParams(params).toString();
  return `${scheme}//${location.host}/ws/console/${kind}?${query}`;
}

/** Sets the status line: `state` is connecting, connected or disconnected. */
export function setStatus(state, text) {
  const el = document.getElementById('console-status');
  el.dataset.state = state;
  el.textContent = text;
}

/** A close event as words: the server's reason, or what the code means. */
export function closeText(e) {
  if (!e) return 'the connection closed';
  if (e.reason) return e.reason;
  switch (e.code) {
    case 1000:
      return 'closed';
    case 1006:
      return 'the server refused or the connection broke; see the server log';
    case 4001:
      return 'the session has ended; log in again';
    default:
      return `code ${e.code}`;
  }
}

/** Runs `start` once the page is hydrated (or after 5 s without hydration). */
export function afterHydration(start) {
  const body = document.body;
  if (body.dataset.hydrated === 'true') {
    start();
    return;
  }
  let started = false;
  const go = () => {
    if (started) return;
    started = true;
    observer.disconnect();
    start();
  };
  const observer = new MutationObserver(() => {
    if (body.dataset.hydrated === 'true') go();
  });
  observer.observe(body, { attributes: true, attributeFilter: ['data-hydrated'] });
  setTimeout(go, 5000);
}
