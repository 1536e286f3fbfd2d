//! ID-token verification of `hitl serve --oidc-*` with keys generated per run (ECDSA P-256,
//! ES256): a valid token names the reviewer and their groups; expired, not-yet-valid, wrongly
//! signed, other-issuer, other-audience, HMAC-signed and exp-less tokens are refused; an
//! unknown key id asks the caller for fresh keys (at most once per back-off); reviewer tokens
//! still go to the reviewer-token source.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::oidc::*;
use hitl_api::identity::{AuthError, Identity, IdentitySource};
use hitl_api::oidc::{PageAuth, SignIn};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

#[test]
fn a_valid_token_names_the_reviewer_and_their_groups() {
    let k = key("k1");
    let v = verifier(&[&k], Arc::default());
    let identity = v.verify(&token(&k, &claims(json!({})))).unwrap();
    assert_eq!(
        identity,
        Identity::oidc("rita", ISSUER, "sub-rita", vec!["reviewers".into()])
    );
}

#[test]
fn tokens_that_must_not_pass_are_refused() {
    let k = key("k1");
    let impostor = key("k1"); // same key id, another key
    let v = verifier(&[&k], Arc::default());
    let cases = [
        (
            "expired",
            token(
                &k,
                &claims(json!({"exp": now() - 3600, "iat": now() - 7200})),
            ),
        ),
        (
            "not yet valid",
            token(&k, &claims(json!({"nbf": now() + 3600}))),
        ),
        ("wrongly signed", token(&impostor, &claims(json!({})))),
        (
            "other issuer",
            token(&k, &claims(json!({"iss": "https://evil.test"}))),
        ),
        (
            "other audience",
            token(&k, &claims(json!({"aud": "someone-else"}))),
        ),
        ("without exp", token(&k, &claims(json!({"exp": null})))),
        ("without sub", token(&k, &claims(json!({"sub": null})))),
        (
            "HMAC-signed",
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &claims(json!({})),
                &EncodingKey::from_secret(b"guessable"),
            )
            .unwrap(),
        ),
        ("not a JWT", "hitl-is-not-a-jwt".to_owned()),
    ];
    for (what, t) in cases {
        assert_eq!(
            v.verify(&t),
            Err(AuthError::Invalid),
            "{what} token accepted"
        );
    }
    // Within the leeway an expired token still passes (clock skew), beyond it not.
    assert!(v
        .verify(&token(&k, &claims(json!({"exp": now() - 10}))))
        .is_ok());
}

#[test]
fn an_unknown_key_id_asks_for_fresh_keys_once_per_back_off() {
    let k = key("k1");
    let rotated = key("k2");
    let asked = Arc::new(AtomicUsize::new(0));
    let v = verifier(&[&k], Arc::clone(&asked));
    let t = token(&rotated, &claims(json!({})));
    assert_eq!(v.verify(&t), Err(AuthError::Invalid));
    assert_eq!(v.verify(&t), Err(AuthError::Invalid));
    assert_eq!(asked.load(Ordering::SeqCst), 1, "one fetch per back-off");
    // The caller fetched the rotated set: the token passes now.
    v.replace_keys(
        serde_json::from_value(json!({"keys": [k.jwk.clone(), rotated.jwk.clone()]})).unwrap(),
    );
    assert!(v.verify(&t).is_ok());
}

struct Fixed;

impl IdentitySource for Fixed {
    fn identify(&self, _: &axum::http::request::Parts) -> Result<Identity, AuthError> {
        Ok(Identity::local("token-user", vec![]))
    }
}

fn parts(bearer: &str) -> axum::http::request::Parts {
    let (parts, ()) = axum::http::Request::builder()
        .header("authorization", format!("Bearer {bearer}"))
        .body(())
        .unwrap()
        .into_parts();
    parts
}

#[test]
fn reviewer_tokens_and_issuer_tokens_go_to_their_own_source() {
    let k = key("k1");
    let sign_in = SignIn::new(
        Arc::new(Fixed),
        Some(Arc::new(verifier(&[&k], Arc::default()))),
    );
    let from_token = sign_in.identify(&parts("hitl_0123")).unwrap();
    assert_eq!(from_token.name, "token-user");
    let from_issuer = sign_in
        .identify(&parts(&token(&k, &claims(json!({})))))
        .unwrap();
    assert_eq!(from_issuer.name, "rita [sub-rita]");
    assert_eq!(sign_in.identify(&parts("garbage")), Err(AuthError::Invalid));
}

#[test]
fn the_page_may_fetch_only_the_token_endpoints_origin() {
    let oidc = |endpoint: &str| PageAuth::Oidc {
        issuer: ISSUER.into(),
        client_id: AUDIENCE.into(),
        authorization_endpoint: format!("{ISSUER}/authorize"),
        token_endpoint: endpoint.into(),
        end_session_endpoint: None,
        revocation_endpoint: None,
        scope: "openid".into(),
        reviewer_tokens: false,
    };
    assert_eq!(
        oidc("https://auth.example.com:8443/oauth2/token?x=1").token_origin(),
        Some("https://auth.example.com:8443".into())
    );
    assert_eq!(oidc("javascript:alert(1)").token_origin(), None);
    assert_eq!(oidc("https://a b/token").token_origin(), None);
    assert_eq!(PageAuth::Token.token_origin(), None);
}

#[test]
fn the_page_may_also_fetch_the_revocation_endpoints_origin() {
    let oidc = |token: &str, revocation: Option<&str>| PageAuth::Oidc {
        issuer: ISSUER.into(),
        client_id: AUDIENCE.into(),
        authorization_endpoint: format!("{ISSUER}/authorize"),
        token_endpoint: token.into(),
        end_session_endpoint: Some(format!("{ISSUER}/logout")),
        revocation_endpoint: revocation.map(str::to_owned),
        scope: "openid".into(),
        reviewer_tokens: false,
    };
    // Amazon Cognito: both on the hosted domain, allowed once.
    assert_eq!(
        oidc(
            "https://d.auth.eu-west-1.amazoncognito.com/oauth2/token",
            Some("https://d.auth.eu-west-1.amazoncognito.com/oauth2/revoke")
        )
        .connect_origins(),
        ["https://d.auth.eu-west-1.amazoncognito.com"]
    );
    assert_eq!(
        oidc(
            "https://idp.example/token",
            Some("https://revoke.example:8443/r")
        )
        .connect_origins(),
        ["https://idp.example", "https://revoke.example:8443"]
    );
    // Nothing that is not an http(s) origin widens the policy.
    assert_eq!(
        oidc("https://idp.example/token", Some("javascript:alert(1)")).connect_origins(),
        ["https://idp.example"]
    );
    assert!(PageAuth::Token.connect_origins().is_empty());
}
