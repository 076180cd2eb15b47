// The graphical console page (/guests/:host/:uuid/console): noVNC's RFB
// client on virtdeck's VNC proxy socket (/ws/console/vnc). The proxy has
// already authenticated to the guest's display; noVNC sees a server that
// asks for no password. Served from 'self' (see app/src/csp.rs).
import RFB from './vendor/novnc/core/rfb.js';
import { afterHydration, closeText, setStatus, socketUrl } from './common.js';

const root = document.getElementById('console');
const screen = document.getElementById('console-screen');
const nameEl = document.getElementById('console-name');
const { host, uuid } = root.dataset;

/** Key combinations of the menu: [keysym, KeyboardEvent.code] pressed in order. */
const XK = {
  Control_L: [0xffe3, 'ControlLeft'],
  Alt_L: [0xffe9, 'AltLeft'],
  Delete: [0xffff, 'Delete'],
  BackSpace: [0xff08, 'Backspace'],
  Tab: [0xff09, 'Tab'],
  Escape: [0xff1b, 'Escape'],
  F1: [0xffbe, 'F1'],
  F2: [0xffbf, 'F2'],
  F7: [0xffc4, 'F7'],
};
const COMBOS = {
  'ctrl-alt-f1': ['Control_L', 'Alt_L', 'F1'],
  'ctrl-alt-f2': ['Control_L', 'Alt_L', 'F2'],
  'ctrl-alt-f7': ['Control_L', 'Alt_L', 'F7'],
  'ctrl-alt-backspace': ['Control_L', 'Alt_L', 'BackSpace'],
  'alt-tab': ['Alt_L', 'Tab'],
  escape: ['Escape'],
};

let rfb = null;
let lastClose = null;

function connect() {
  if (rfb) {
    rfb.disconnect();
    rfb = null;
  }
  screen.replaceChildren();
  lastClose = null;
  setStatus('connecting', 'connecting…');
  // Our own socket, so that its close code and reason can be shown.
  const ws = new WebSocket(socketUrl('vnc', { host, uuid }), ['binary']);
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('close', (e) => {
    lastClose = e;
  });
  const client = new RFB(screen, ws, { shared: true });
  client.scaleViewport = true;
  client.resizeSession = false;
  client.background = 'transparent';
  client.addEventListener('connect', () => {
    setStatus('connected', 'connected');
    client.focus();
  });
  client.addEventListener('desktopname', (e) => {
    if (e.detail.name) {
      nameEl.textContent = e.detail.name;
      document.title = `${e.detail.name} — console`;
    }
  });
  client.addEventListener('securityfailure', (e) => {
    lastClose = { code: 0, reason: e.detail.reason || 'the display refused the connection' };
  });
  client.addEventListener('disconnect', () => {
    if (rfb !== client) return;
    // The socket's close event may come just after noVNC's.
    setTimeout(() => {
      if (rfb !== client) return;
      setStatus('disconnected', `disconnected (${closeText(lastClose)})`);
    }, 50);
  });
  rfb = client;
  window.virtdeckConsole = { rfb: client, socket: ws };
}

function sendCombo(name) {
  const keys = COMBOS[name];
  if (!rfb || !keys) return;
  for (const k of keys) rfb.sendKey(XK[k][0], XK[k][1], true);
  for (const k of [...keys].reverse()) rfb.sendKey(XK[k][0], XK[k][1], false);
  rfb.focus();
}

afterHydration(() => {
  document.getElementById('console-cad').addEventListener('click', () => {
    if (rfb) {
      rfb.sendCtrlAltDel();
      rfb.focus();
    }
  });
  const keys = document.getElementById('console-keys');
  keys.addEventListener('change', () => {
    sendCombo(keys.value);
    keys.value = '';
  });
  document.getElementById('console-fullscreen').addEventListener('click', () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else root.requestFullscreen?.().catch(() => {});
  });
  document.getElementById('console-reconnect').addEventListener('click', connect);
  for (const b of root.querySelectorAll('.console-tools [disabled]')) b.disabled = false;
  connect();
});
