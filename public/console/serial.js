// The serial console page (/guests/:host/:uuid/serial): xterm.js on
// virtdeck's serial console socket (/ws/console/serial), bytes both ways.
// One writer per console: when another session holds it, the socket closes
// with 4409 and the page offers "Take over" (reconnects with force=1).
import { afterHydration, closeText, setStatus, socketUrl } from './common.js';

// xterm.js adds <style> elements of its own; the page's policy allows
// styles from 'self' and with this page's nonce only (app/src/csp.rs), so
// they get the nonce Leptos gave the page's scripts — no 'unsafe-inline'.
const nonce = document.querySelector('script[nonce]')?.nonce || '';
if (nonce) {
  const create = Document.prototype.createElement;
  Document.prototype.createElement = function (name, options) {
    const el = create.call(this, name, options);
    if (String(name).toLowerCase() === 'style') el.nonce = nonce;
    return el;
  };
}

const { Terminal } = await import('./vendor/xterm/xterm.mjs');
const { FitAddon } = await import('./vendor/xterm/addon-fit.mjs');

const BUSY = 4409;
const root = document.getElementById('console');
const screen = document.getElementById('console-screen');
const takeOver = document.getElementById('console-takeover');
const { host, uuid } = root.dataset;

const term = new Terminal({
  convertEol: false,
  cursorBlink: true,
  fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
  fontSize: 14,
  scrollback: 5000,
});
const fit = new FitAddon();
term.loadAddon(fit);

let socket = null;
const encoder = new TextEncoder();

term.onData((data) => {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(data));
});
term.onBinary((data) => {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff));
  }
});

function connect(force = false) {
  if (socket) {
    const old = socket;
    socket = null;
    old.close();
  }
  takeOver.hidden = true;
  setStatus('connecting', 'connecting…');
  const params = { host, uuid };
  if (force) params.force = '1';
  const ws = new WebSocket(socketUrl('serial', params));
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => {
    if (socket !== ws) return;
    setStatus('connected', 'connected');
    term.focus();
  });
  ws.addEventListener('message', (e) => {
    if (socket !== ws) return;
    term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
  });
  ws.addEventListener('close', (e) => {
    if (socket !== ws) return;
    socket = null;
    setStatus('disconnected', `disconnected (${closeText(e)})`);
    takeOver.hidden = e.code !== BUSY;
  });
  socket = ws;
}

afterHydration(() => {
  term.open(screen);
  fit.fit();
  new ResizeObserver(() => fit.fit()).observe(screen);
  window.virtdeckConsole = {
    term,
    /** The terminal's text, row by row (for tests and scripts). */
    text() {
      const buffer = term.buffer.active;
      const rows = [];
      for (let i = 0; i < buffer.length; i++) {
        rows.push(buffer.getLine(i)?.translateToString(true) ?? '');
      }
      return rows.join('\n');
    },
  };
  takeOver.addEventListener('click', () => connect(true));
  document.getElementById('console-reconnect').addEventListener('click', () => connect(false));
  document.getElementById('console-fullscreen').addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else root.requestFullscreen?.().catch(() => {});
  });
  for (const b of root.querySelectorAll('.console-tools [disabled]')) b.disabled = false;
  connect(false);
});
