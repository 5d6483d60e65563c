//! A faithful local stand-in for auth.atlassian.com and api.atlassian.com.
