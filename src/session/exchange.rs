//! The ticket redemption: the broker's sealed sign-in ticket from the callback, traded for the
//! first token set of a grant through `POST /oauth/token` with a proof from the same key (the
//! broker exchanged Atlassian's code at its hosted callback already).

use super::{Inner, Platform};
use crate::core::json;
use crate::core::secrets::Ticket;
use crate::core::token_response::{classify_token_response, TokenOutcome};
use crate::core::tokens::TokenSet;
use crate::Error;

/// The grant type of the broker's ticket redemption.
pub const TICKET_GRANT: &str = "urn:jira-3lo:ticket";

impl<P: Platform> Inner<P> {
    /// One ticket redemption. A refusal is [`Error::Oauth`]: it says nothing about any grant
    /// already stored, which the caller keeps.
    pub(super) async fn redeem_ticket(&self, ticket: &Ticket) -> Result<TokenSet, Error> {
        let sent_at = self.platform.now_ms();
        let resp = self
            .post_token(json::string_object(&[
                ("grant_type", TICKET_GRANT),
                ("ticket", ticket.secret()),
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
