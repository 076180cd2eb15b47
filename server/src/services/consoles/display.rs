//! A guest's VNC display, reached by the server: the address, port and
//! password from the live definition read with its secrets
//! (`VIR_DOMAIN_XML_SECURE`), then the client's side of the RFB handshake
//! (3.8 or 3.7; VNC Authentication answered with the password). What is
//! answered is ready for the client's `ClientInit`; a display that cannot be
//! reached is an error naming the address tried.

use std::time::Duration;

use app::api::{guests::GuestSummary, ApiError};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{libvirt::console, services::Host};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The version string of RFB 3.8.
pub const RFB_38: &[u8; 12] = b"RFB 003.008\n";

/// VNC Authentication: the challenge encrypted with DES, keyed by the first
/// 8 bytes of the password (zero-padded), each byte's bits reversed.
pub fn vnc_auth_response(password: &str, challenge: &[u8; 16]) -> [u8; 16] {
    use des::cipher::{generic_array::GenericArray, BlockEncrypt, KeyInit};
    let mut key = [0u8; 8];
    for (k, b) in key.iter_mut().zip(password.as_bytes()) {
        *k = b.reverse_bits();
    }
    let cipher = des::Des::new_from_slice(&key).expect("an 8-byte DES key");
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

/// Reads the guest's display from its XML and connects to it, through the
/// RFB handshake: the connection is ready for the client's `ClientInit`.
pub(super) async fn connect(host: &Host, guest: &GuestSummary) -> Result<TcpStream, ApiError> {
    let uuid = guest.uuid.clone();
    let fallback = crate::libvirt::uri_host(host.uri());
    let display = host
        .run(move |conn| console::vnc_display(conn, &uuid, &fallback))
        .await?;
    let name = &guest.name;
    let display = display
        .map_err(|e| ApiError::Conflict(format!("guest {name}: {e}")))?
        .ok_or_else(|| ApiError::Conflict("this guest has no VNC display".into()))?;
    let addr = if display.address.contains(':') {
        format!("[{}]:{}", display.address, display.port)
    } else {
        format!("{}:{}", display.address, display.port)
    };
    let unreachable = |why: String| {
        ApiError::Libvirt(format!(
            "cannot reach the VNC display of guest {name} at {addr}: {why}"
        ))
    };
    let mut tcp = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&addr)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Err(unreachable(e.to_string())),
        Err(_) => {
            return Err(unreachable(format!(
                "no answer within {} s",
                CONNECT_TIMEOUT.as_secs()
            )))
        }
    };
    let _ = tcp.set_nodelay(true);
    let handshake = handshake(&mut tcp, display.password.as_deref());
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
        Ok(Ok(())) => Ok(tcp),
        Ok(Err(why)) => Err(ApiError::Libvirt(format!(
            "the VNC display of guest {name} at {addr}: {why}"
        ))),
        Err(_) => Err(unreachable(format!(
            "no RFB handshake within {} s",
            HANDSHAKE_TIMEOUT.as_secs()
        ))),
    }
}

/// The client's side of the RFB 3.8 (or 3.7) handshake with the display.
async fn handshake(tcp: &mut TcpStream, password: Option<&str>) -> Result<(), String> {
    let io = |e: std::io::Error| format!("the connection broke during the handshake: {e}");
    let mut version = [0u8; 12];
    tcp.read_exact(&mut version).await.map_err(io)?;
    let minor = parse_version(&version).ok_or_else(|| {
        format!(
            "it does not speak RFB (it said {:?})",
            String::from_utf8_lossy(&version)
        )
    })?;
    if minor < 7 {
        return Err(format!(
            "it speaks RFB 3.{minor}; virtdeck needs 3.7 or later"
        ));
    }
    let ours: &[u8; 12] = if minor >= 8 { RFB_38 } else { b"RFB 003.007\n" };
    tcp.write_all(ours).await.map_err(io)?;
    let count = tcp.read_u8().await.map_err(io)?;
    if count == 0 {
        return Err(format!(
            "it refused the connection: {}",
            read_reason(tcp).await
        ));
    }
    let mut types = vec![0u8; count as usize];
    tcp.read_exact(&mut types).await.map_err(io)?;
    if types.contains(&1) {
        tcp.write_u8(1).await.map_err(io)?;
        if minor >= 8 {
            security_result(tcp, minor).await?;
        }
        return Ok(());
    }
    if !types.contains(&2) {
        return Err(format!(
            "it offers security types {types:?}; virtdeck can answer None (1) and VNC \
             Authentication (2)"
        ));
    }
    let password = password.ok_or(
        "it asks for a password, but the guest's definition has none (passwd of <graphics>)",
    )?;
    tcp.write_u8(2).await.map_err(io)?;
    let mut challenge = [0u8; 16];
    tcp.read_exact(&mut challenge).await.map_err(io)?;
    tcp.write_all(&vnc_auth_response(password, &challenge))
        .await
        .map_err(io)?;
    security_result(tcp, minor).await
}

async fn security_result(tcp: &mut TcpStream, minor: u8) -> Result<(), String> {
    let result = tcp
        .read_u32()
        .await
        .map_err(|e| format!("the connection broke during authentication: {e}"))?;
    if result == 0 {
        return Ok(());
    }
    let reason = if minor >= 8 {
        read_reason(tcp).await
    } else {
        "no reason given".into()
    };
    Err(format!("authentication failed: {reason}"))
}

async fn read_reason(tcp: &mut TcpStream) -> String {
    let Ok(len) = tcp.read_u32().await else {
        return "no reason given".into();
    };
    let mut text = vec![0u8; len.min(1024) as usize];
    match tcp.read_exact(&mut text).await {
        Ok(_) => String::from_utf8_lossy(&text).into_owned(),
        Err(_) => "no reason given".into(),
    }
}

/// `RFB 003.008\n` → 8 (the minor version of a 3.x protocol).
fn parse_version(v: &[u8; 12]) -> Option<u8> {
    let text = std::str::from_utf8(v).ok()?;
    let rest = text.strip_prefix("RFB 003.")?.strip_suffix('\n')?;
    rest.parse::<u16>().ok().map(|m| m.min(255) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vnc_authentication_answers_the_challenge_with_des() {
        // The challenge encrypted with the bit-reversed key "password"
        // (as libvncserver and QEMU compute it).
        let challenge = [0u8; 16];
        let response = vnc_auth_response("password", &challenge);
        use des::cipher::{generic_array::GenericArray, BlockDecrypt, KeyInit};
        let key: Vec<u8> = b"password".iter().map(|b| b.reverse_bits()).collect();
        let cipher = des::Des::new_from_slice(&key).unwrap();
        let mut back = response;
        for block in back.chunks_exact_mut(8) {
            cipher.decrypt_block(GenericArray::from_mut_slice(block));
        }
        assert_eq!(back, challenge);
        // Only the first 8 bytes of a password count.
        assert_eq!(vnc_auth_response("password-longer", &challenge), response);
        assert_eq!(parse_version(b"RFB 003.008\n"), Some(8));
        assert_eq!(parse_version(b"HTTP/1.1 200"), None);
    }
}
