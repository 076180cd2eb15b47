//! A guest's consoles through virtdeck on the lab's real libvirt hosts:
//! the serial console of the small Linux guest (its boot output, what is
//! typed echoed back, one writer, taken over with force, closed when the
//! guest stops), and the VNC display of a guest with a password, proxied
//! with the RFB handshake done by the server (the browser's side asks for
//! no password). Refusals: a viewer, an unknown guest, a shut-off guest, a
//! guest without a VNC display.
//!
//! `scripts/test` brings the lab up first and builds the small Linux guest
//! (`scripts/lab guest-kernel`).

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::{
    helpers::{spawn_app_with, Socket, TestApp, ADMIN_PASSWORD},
    lab::{bios_guest, new_uuid, unique, Lab},
};

async fn lab_app() -> (Lab, TestApp, reqwest::Client) {
    let lab = Lab::load();
    let app = spawn_app_with(lab.hosts()).await;
    let client = app.admin().await;
    (lab, app, client)
}

/// The session cookie of a fresh login as `user`.
async fn login_cookie(app: &TestApp, user: &str, password: &str) -> String {
    let login = app
        .anonymous()
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    crate::helpers::set_cookie(&login, "virtdeck_session")
        .as_str()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// Opens `path` as a WebSocket with the cookie: the socket, or the HTTP
/// status and JSON body it was refused with.
async fn open(
    app: &TestApp,
    path: &str,
    cookie: &str,
    protocol: Option<&str>,
) -> Result<(Socket, Option<String>), (u16, Value)> {
    let mut request = (app.url.replace("http://", "ws://") + path)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    if let Some(p) = protocol {
        request
            .headers_mut()
            .insert("sec-websocket-protocol", p.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, response)) => {
            let protocol = response
                .headers()
                .get("sec-websocket-protocol")
                .map(|v| v.to_str().unwrap().to_string());
            Ok((socket, protocol))
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_ref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((response.status().as_u16(), body))
        }
        Err(e) => panic!("{path}: {e}"),
    }
}

/// Reads the socket's binary data until it contains `needle` (within
/// `limit`); answers all that was read.
async fn read_until(socket: &mut Socket, needle: &str, limit: Duration) -> String {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(limit, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Binary(b))) => {
                    seen.extend_from_slice(&b);
                    if String::from_utf8_lossy(&seen).contains(needle) {
                        return true;
                    }
                }
                Some(Ok(Message::Close(frame))) => panic!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                other => panic!("the socket ended: {other:?}"),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&seen).into_owned();
    assert!(found.is_ok(), "no {needle:?} within {limit:?} in {text:?}");
    text
}

/// The close frame the server ends `socket` with (within `limit`), skipping data.
async fn closed_with(socket: &mut Socket, limit: Duration) -> (u16, String) {
    tokio::time::timeout(limit, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) => return (0, String::new()),
                Some(Ok(_)) => continue,
                other => panic!("the socket ended without a close frame: {other:?}"),
            }
        }
    })
    .await
    .expect("the socket is closed in time")
}

/// The small Linux guest of `scripts/lab guest-kernel` with its console on a
/// pty (what `virDomainOpenConsole` opens).
fn serial_guest(lab: &Lab, name: &str, uuid: &str) -> String {
    format!(
        "<domain type='qemu'><name>{name}</name><uuid>{uuid}</uuid>\
         <memory unit='MiB'>256</memory><currentMemory unit='MiB'>256</currentMemory><vcpu>1</vcpu>\
         <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>\
         <cmdline>console=ttyS0 quiet fill=0</cmdline></os><features><acpi/></features>\
         <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>\
         <devices><emulator>/usr/bin/qemu-system-x86_64</emulator>\
         <serial type='pty'><target port='0'/></serial>\
         <console type='pty'><target type='serial' port='0'/></console>\
         <memballoon model='none'/></devices></domain>",
        kernel = lab.get("LAB_GUEST_KERNEL"),
        initrd = lab.get("LAB_GUEST_INITRD"),
    )
}

#[tokio::test]
async fn lab_serial_console_shows_the_boot_takes_input_and_has_one_writer() {
    let (lab, app, _admin) = lab_app().await;
    let name = unique("console-serial");
    let uuid = new_uuid();
    let _guard = lab.guard(&name);
    lab.define("lab-a", &serial_guest(&lab, &name, &uuid), false);
    // Paused until the console is open: the boot output is not missed.
    lab.virsh("lab-a", &["start", "--paused", &name]);
    let cookie = login_cookie(&app, "admin", ADMIN_PASSWORD).await;
    let path = format!("/ws/console/serial?host=lab-a&uuid={uuid}");

    let (mut first, _) = open(&app, &path, &cookie, None).await.expect("opened");
    lab.virsh("lab-a", &["resume", &name]);
    let boot = read_until(&mut first, "LAB-GUEST READY", Duration::from_secs(90)).await;
    assert!(boot.contains("LAB-GUEST READY"), "{boot}");

    // What is typed reaches the guest: its terminal echoes it back.
    first
        .send(Message::Binary(b"virtdeck-typed-42\r".to_vec().into()))
        .await
        .unwrap();
    read_until(&mut first, "virtdeck-typed-42", Duration::from_secs(20)).await;
    // The latency a typist feels: one key to its echo, through virtdeck,
    // libvirt's stream, QEMU's pty and the guest's terminal (printed, not asserted).
    let mut rounds = Vec::new();
    for i in 0..20u8 {
        let key = [b'a' + i];
        let sent = std::time::Instant::now();
        first
            .send(Message::Binary(key.to_vec().into()))
            .await
            .unwrap();
        read_until(
            &mut first,
            std::str::from_utf8(&key).unwrap(),
            Duration::from_secs(10),
        )
        .await;
        rounds.push(sent.elapsed());
    }
    rounds.sort();
    println!(
        "serial console key-to-echo: median {:.1} ms, max {:.1} ms (20 keys)",
        rounds[10].as_secs_f64() * 1000.0,
        rounds[19].as_secs_f64() * 1000.0
    );
    first
        .send(Message::Binary(b"\r".to_vec().into()))
        .await
        .unwrap();
    // Text messages are input too.
    first
        .send(Message::Text("typed-as-text\r".into()))
        .await
        .unwrap();
    read_until(&mut first, "typed-as-text", Duration::from_secs(20)).await;

    // A second session without force is refused, saying how to take over.
    let (mut second, _) = open(&app, &path, &cookie, None).await.expect("upgraded");
    let (code, reason) = closed_with(&mut second, Duration::from_secs(10)).await;
    assert_eq!(code, 4409);
    assert_eq!(
        reason,
        "another session has this console open; reconnect with force to take it over"
    );

    // With force it takes over: the new one reads the guest, the old one is told.
    let (mut forced, _) = open(&app, &format!("{path}&force=1"), &cookie, None)
        .await
        .expect("opened with force");
    let (code, reason) = closed_with(&mut first, Duration::from_secs(10)).await;
    assert_eq!(
        (code, reason.as_str()),
        (4409, "another session took over this console")
    );
    read_until(&mut forced, "tick", Duration::from_secs(20)).await;

    // The guest stops: the console closes, saying so.
    lab.virsh("lab-a", &["destroy", &name]);
    let (code, reason) = closed_with(&mut forced, Duration::from_secs(15)).await;
    assert_eq!((code, reason.as_str()), (1000, "the guest has stopped"));

    // Now it is shut off: refused before the upgrade.
    let (status, body) = open(&app, &path, &cookie, None).await.unwrap_err();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("is not running"),
        "{body}"
    );

    let outcomes: Vec<String> = app
        .audit("guest.console.serial")
        .await
        .iter()
        .map(|r| {
            assert_eq!(r.target, format!("guest {uuid} on host lab-a"));
            r.outcome.clone()
        })
        .collect();
    assert_eq!(outcomes, ["ok", "refused", "ok", "failed"], "{outcomes:?}");
}

/// Does the RFB handshake of a client that wants no authentication over the
/// proxy's socket; answers the ServerInit: width, height, desktop name.
async fn rfb_client(socket: &mut Socket) -> (u16, u16, String) {
    let mut buffer: Vec<u8> = Vec::new();
    async fn take(socket: &mut Socket, buffer: &mut Vec<u8>, n: usize) -> Vec<u8> {
        while buffer.len() < n {
            match tokio::time::timeout(Duration::from_secs(20), socket.next())
                .await
                .expect("the proxy answers")
            {
                Some(Ok(Message::Binary(b))) => buffer.extend_from_slice(&b),
                Some(Ok(Message::Close(f))) => panic!("closed: {f:?}"),
                Some(Ok(_)) => continue,
                other => panic!("ended: {other:?}"),
            }
        }
        buffer.drain(..n).collect()
    }
    assert_eq!(take(socket, &mut buffer, 12).await, b"RFB 003.008\n");
    socket
        .send(Message::Binary(b"RFB 003.008\n".to_vec().into()))
        .await
        .unwrap();
    // Security types: one, None.
    assert_eq!(take(socket, &mut buffer, 2).await, [1, 1]);
    socket.send(Message::Binary(vec![1].into())).await.unwrap();
    assert_eq!(take(socket, &mut buffer, 4).await, [0, 0, 0, 0], "OK");
    // ClientInit (shared), then the real server's ServerInit.
    socket.send(Message::Binary(vec![1].into())).await.unwrap();
    let init = take(socket, &mut buffer, 24).await;
    let width = u16::from_be_bytes([init[0], init[1]]);
    let height = u16::from_be_bytes([init[2], init[3]]);
    let len = u32::from_be_bytes([init[20], init[21], init[22], init[23]]) as usize;
    let name = take(socket, &mut buffer, len).await;
    (width, height, String::from_utf8_lossy(&name).into_owned())
}

/// The security types a VNC server offers a client of RFB 3.8.
async fn offered_types(addr: &str) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut version = [0u8; 12];
    tcp.read_exact(&mut version).await.unwrap();
    tcp.write_all(b"RFB 003.008\n").await.unwrap();
    let n = tcp.read_u8().await.unwrap();
    let mut types = vec![0u8; n as usize];
    tcp.read_exact(&mut types).await.unwrap();
    types
}

#[tokio::test]
async fn lab_vnc_console_authenticates_to_the_display_and_hides_its_password() {
    let (lab, app, admin) = lab_app().await;
    let name = unique("console-vnc");
    let uuid = new_uuid();
    let _guard = lab.guard(&name);
    // Host a listens on 127.0.0.2 (its URI's address).
    let graphics = "<graphics type='vnc' autoport='yes' passwd='s3cretpw' listen='127.0.0.2'/>";
    lab.define("lab-a", &bios_guest(&name, &uuid, graphics), true);
    let cookie = login_cookie(&app, "admin", ADMIN_PASSWORD).await;
    let path = format!("/ws/console/vnc?host=lab-a&uuid={uuid}");

    // The display itself wants its password (VNC Authentication only).
    let display = lab.virsh("lab-a", &["domdisplay", &name]);
    let port: u16 = 5900
        + display
            .rsplit(':')
            .next()
            .unwrap()
            .trim()
            .parse::<u16>()
            .unwrap();
    assert_eq!(offered_types(&format!("127.0.0.2:{port}")).await, [2]);

    // Through virtdeck: no password asked, the real ServerInit arrives.
    // A session of its own: logging it out closes the console (below).
    let session = login_cookie(&app, "admin", ADMIN_PASSWORD).await;
    let (mut socket, protocol) = open(&app, &path, &session, Some("binary"))
        .await
        .expect("opened");
    assert_eq!(protocol.as_deref(), Some("binary"), "noVNC's subprotocol");
    let (width, height, desktop) = rfb_client(&mut socket).await;
    assert!(width > 0 && height > 0, "{width}x{height}");
    assert!(desktop.contains(&name), "{desktop:?}");
    // A FramebufferUpdateRequest (full, whole screen) is answered with an update.
    let mut request = vec![3u8, 0, 0, 0, 0, 0];
    request.extend_from_slice(&width.to_be_bytes());
    request.extend_from_slice(&height.to_be_bytes());
    socket.send(Message::Binary(request.into())).await.unwrap();
    let update = tokio::time::timeout(Duration::from_secs(20), socket.next())
        .await
        .expect("an update")
        .unwrap()
        .unwrap();
    assert!(
        matches!(&update, Message::Binary(b) if b[0] == 0),
        "FramebufferUpdate: {update:?}"
    );
    // Drain the rest of that update, then time small updates: a request
    // through virtdeck to QEMU's display and its answer back (printed).
    while let Ok(Some(Ok(_))) =
        tokio::time::timeout(Duration::from_millis(300), socket.next()).await
    {}
    let mut rounds = Vec::new();
    for _ in 0..20 {
        let request = vec![3u8, 0, 0, 0, 0, 0, 0, 16, 0, 16];
        let sent = std::time::Instant::now();
        socket.send(Message::Binary(request.into())).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an update");
        rounds.push(sent.elapsed());
        assert!(matches!(first, Some(Ok(Message::Binary(_)))), "{first:?}");
        while let Ok(Some(Ok(_))) =
            tokio::time::timeout(Duration::from_millis(50), socket.next()).await
        {}
    }
    rounds.sort();
    println!(
        "VNC through the proxy, 16x16 update request to answer: median {:.1} ms, max {:.1} ms (20)",
        rounds[10].as_secs_f64() * 1000.0,
        rounds[19].as_secs_f64() * 1000.0
    );
    // The session ends: the console is closed with 4001.
    let logout = reqwest::Client::new()
        .post(format!("{}/api/logout", app.url))
        .header("cookie", &session)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 200);
    let (code, reason) = closed_with(&mut socket, Duration::from_secs(10)).await;
    assert_eq!((code, reason.as_str()), (4001, "the session has ended"));

    let rows = app.audit("guest.console.vnc").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "ok");
    assert_eq!(rows[0].target, format!("guest {uuid} on host lab-a"));

    // A viewer may not open a console.
    let (status, body) = app
        .post(
            &admin,
            "/api/users",
            &json!({"username": "vic", "password": "first-vic-password", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let viewer = app.anonymous();
    let resp = viewer
        .post(format!("{}/api/login", app.url))
        .json(&json!({"username": "vic", "password": "first-vic-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (status, body) = app
        .post(
            &viewer,
            "/api/me/password",
            &json!({"current": "first-vic-password", "new": "vic-own-password"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let vic = login_cookie(&app, "vic", "vic-own-password").await;
    for p in [&path, &path.replace("/vnc", "/serial")] {
        let (status, body) = open(&app, p, &vic, None).await.unwrap_err();
        assert_eq!(status, 403, "{p}: {body}");
    }

    // An unknown guest, an unknown host, a malformed UUID.
    let unknown = new_uuid();
    let (status, body) = open(
        &app,
        &format!("/ws/console/vnc?host=lab-a&uuid={unknown}"),
        &cookie,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(status, 404, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(&unknown),
        "{body}"
    );
    let (status, body) = open(
        &app,
        &format!("/ws/console/vnc?host=nowhere&uuid={uuid}"),
        &cookie,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(status, 404, "{body}");
    let (status, _) = open(&app, "/ws/console/vnc?host=lab-a&uuid=nope", &cookie, None)
        .await
        .unwrap_err();
    assert_eq!(status, 400);

    // A running guest without a VNC display.
    let plain = unique("console-novnc");
    let plain_uuid = new_uuid();
    let _plain_guard = lab.guard(&plain);
    lab.define("lab-a", &bios_guest(&plain, &plain_uuid, ""), true);
    let (status, body) = open(
        &app,
        &format!("/ws/console/vnc?host=lab-a&uuid={plain_uuid}"),
        &cookie,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["message"], "this guest has no VNC display");
    lab.virsh("lab-a", &["destroy", &plain]);

    // Shut off: 409.
    lab.virsh("lab-a", &["destroy", &name]);
    let (status, body) = open(&app, &path, &cookie, None).await.unwrap_err();
    assert_eq!(status, 409, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("is not running"),
        "{body}"
    );
}

#[tokio::test]
async fn lab_console_sockets_refuse_other_sites() {
    let (_lab, app, _admin) = lab_app().await;
    let cookie = login_cookie(&app, "admin", ADMIN_PASSWORD).await;
    let mut request = (app.url.replace("http://", "ws://")
        + &format!("/ws/console/serial?host=lab-a&uuid={}", new_uuid()))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status().as_u16(), 403)
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test]
async fn lab_a_demoted_operator_keeps_an_open_console() {
    let (lab, app, admin) = lab_app().await;
    let (name, uuid) = (unique("demoted"), new_uuid());
    lab.define("lab-a", &serial_guest(&lab, &name, &uuid), true);
    let _cleanup = lab.guard(&name);
    // An operator with their own password, then their console.
    let operator = crate::roles::user(&app, &admin, "otto", "operator").await;
    drop(operator);
    let cookie = login_cookie(&app, "otto", "otto-own-password").await;
    let path = format!("/ws/console/serial?host=lab-a&uuid={uuid}");
    let (mut socket, _) = open(&app, &path, &cookie, None)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    // Demoted to viewer: the console closes at once (within the 2 s check).
    let (status, body) = app
        .post(
            &admin,
            "/api/users/update",
            &json!({"username": "otto", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (code, reason) = closed_with(&mut socket, Duration::from_secs(6)).await;
    assert_eq!(code, app::api::events::SESSION_ENDED);
    assert_eq!(reason, "your role no longer allows this");
    // The session itself goes on, as a viewer's: no console any more.
    match open(&app, &path, &cookie, None).await {
        Err((status, _)) => assert_eq!(status, 403),
        Ok(_) => panic!("a viewer opened a console"),
    }
}
