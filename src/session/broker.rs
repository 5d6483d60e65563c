//! Requests to the broker. Each carries a fresh proof of possession of this installation's
//! key (RFC 9449, see [`crate::core::dpop`]): the broker binds the sign-in and the sealed
//! refresh token to that key, so a copied ticket or refresh token is useless elsewhere.

use super::ports::{HttpRequest, HttpResponse, Method};
use super::{Inner, Platform};
use crate::core::dpop::{clock_offset, random_jti, DpopProof, UnsignedProof};
use crate::core::json::{self, JsonValue};
use crate::Error;

impl<P: Platform> Inner<P> {
    /// The local time corrected by the broker's clock (see [`clock_offset`]).
    fn proof_time_ms(&self) -> u64 {
        self.platform
            .now_ms()
            .saturating_add_signed(self.broker_clock_offset_ms.get())
    }

    /// A proof for `method url`, signed now by the installation's key.
    async fn proof(&self, method: Method, url: &str) -> Result<DpopProof, Error> {
        let jwk = self.platform.public_jwk().await?;
        let unsigned = UnsignedProof::new(&jwk, method, url, self.proof_time_ms(), &random_jti()?);
        let signature = self.platform.sign(unsigned.signing_input()).await?;
        unsigned.signed(&signature)
    }

    /// `POST {broker}{path}` with a JSON body and a proof. A proof refused because this device's
    /// clock is far off the broker's is sent again once, with the broker's time (the refused
    /// request did nothing: the broker checks the proof first).
    pub(super) async fn broker_post(
        &self,
        path: &str,
        body: JsonValue,
    ) -> Result<HttpResponse, Error> {
        let resp = self.broker_post_once(path, &body).await?;
        let offset = clock_offset(&resp, self.platform.now_ms());
        match offset {
            Some(offset) if offset != self.broker_clock_offset_ms.get() => {
                self.broker_clock_offset_ms.set(offset);
                self.broker_post_once(path, &body).await
            }
            _ => Ok(resp),
        }
    }

    async fn broker_post_once(&self, path: &str, body: &JsonValue) -> Result<HttpResponse, Error> {
        let url = format!("{}{path}", self.config.broker());
        let proof = self.proof(Method::Post, &url).await?;
        let request = HttpRequest {
            method: Method::Post,
            url,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "application/json".into()),
                ("dpop".into(), proof.secret().into()),
            ],
            body: Some(json::to_text(body)),
        };
        self.http(request).await
    }

    /// `POST {broker}/oauth/token`: the ticket redemption and every refresh (the broker adds
    /// the client credentials and seals the refresh token).
    pub(super) async fn post_token(&self, body: JsonValue) -> Result<HttpResponse, Error> {
        self.broker_post("/oauth/token", body).await
    }
}
