//! Behind a reverse proxy every client comes from the proxy's address: the
//! login throttle would then count all of them as one, and the audit log
//! would name the proxy. For a peer listed in `trusted_proxies`, the client
//! is the last address in `X-Forwarded-For` that is not itself a trusted
//! proxy; from anyone else the header is ignored (it is the client's to
//! make up).

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request, State},
    middleware::Next,
    response::Response,
};

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Arc<Vec<IpAddr>>);

/// The client behind `peer` as the forwarded header names it, if `peer` is trusted.
pub fn client_behind(trusted: &[IpAddr], peer: IpAddr, forwarded: Option<&str>) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let Some(list) = forwarded else {
        return peer;
    };
    for hop in list.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return ip,
            // Not an address: nothing further left can be believed.
            Err(_) => return peer,
        }
    }
    peer
}

/// Replaces the connection's address with the forwarded client's, for every
/// later reader (the gate, the throttle, the audit log, the consoles).
pub async fn forwarded(
    State(trusted): State<TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    if !trusted.0.is_empty() {
        if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied()
        {
            let header = req
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok());
            let client = client_behind(&trusted.0, peer.ip(), header);
            if client != peer.ip() {
                req.extensions_mut()
                    .insert(ConnectInfo(SocketAddr::new(client, 0)));
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = [proxy];
        let client = |peer: &str, header: Option<&str>| {
            client_behind(&trusted, peer.parse().unwrap(), header).to_string()
        };
        assert_eq!(client("10.0.0.1", Some("203.0.113.7")), "203.0.113.7");
        // The client's own claims sit left of what the proxy added.
        assert_eq!(
            client("10.0.0.1", Some("1.2.3.4, 203.0.113.7")),
            "203.0.113.7"
        );
        assert_eq!(
            client("10.0.0.1", Some("203.0.113.7, 10.0.0.1")),
            "203.0.113.7"
        );
        assert_eq!(client("10.0.0.1", Some("junk")), "10.0.0.1");
        assert_eq!(client("10.0.0.1", None), "10.0.0.1");
        // Anyone else's header is ignored.
        assert_eq!(client("198.51.100.9", Some("203.0.113.7")), "198.51.100.9");
    }
}
