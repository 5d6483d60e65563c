//! The code exchange: the authorization code from a callback, traded for the first token set
//! of a grant through the broker's `POST /oauth/token` (the broker adds the client secret).

use super::{Inner, Platform};
use crate::core::json;
use crate::core::secrets::AuthorizationCode;
use crate::core::token_response::{classify_token_response, TokenOutcome};
use crate::core::tokens::TokenSet;
use crate::Error;

impl<P: Platform> Inner<P> {
    /// One `authorization_code` grant. A refusal is [`Error::Oauth`]: it says nothing about any
    /// grant already stored, which the caller keeps.
    pub(super) async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        redirect_uri: &str,
    ) -> Result<TokenSet, Error> {
        let sent_at = self.platform.now_ms();
        let resp = self
            .post_token(json::string_object(&[
                ("grant_type", "authorization_code"),
                ("code", code.secret()),
                ("redirect_uri", redirect_uri),
            ]))
            .await?;
        match classify_token_response(&resp, self.platform.now_ms()) {
            TokenOutcome::Issued(t) => Ok(TokenSet::from_response(t, sent_at, None, &[])),
            TokenOutcome::Refused {
                status,
                error,
                description,
            } => Err(Error::Oauth {
                status,
                error,
                description,
            }),
            TokenOutcome::Failed(e) => Err(e),
        }
    }
}
