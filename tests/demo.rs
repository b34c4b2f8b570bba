//! The demo app (examples/quickstart) over HTTP, in-process: what a browser
//! cannot show, such as status codes.

use axum::body::Body;
use http::{Request, StatusCode, header};

use crate::quickstart;
use crate::support::{Backend, Client, Reply};

/// The CSRF token in the first form of `page`.
fn csrf_token(page: &str) -> String {
    let start = page
        .find(r#"name="csrf_token" value=""#)
        .map(|at| at + r#"name="csrf_token" value=""#.len())
        .unwrap_or_else(|| panic!("no CSRF field in:\n{page}"));
    let len = page[start..].find('"').unwrap();
    page[start..start + len].to_owned()
}

/// POSTs the form `fields` to `path` with the client's cookie.
async fn post(client: &mut Client, path: &str, fields: &[(&str, &str)]) -> Reply {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
        .collect();
    let mut request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::USER_AGENT, "demo-test");
    if let Some(value) = &client.cookie {
        request = request.header(header::COOKIE, format!("session={value}"));
    }
    let reply = client
        .send_request(request.body(Body::from(body.join("&"))).unwrap())
        .await;
    if let Some(value) = reply.cookie("session") {
        client.cookie = (!value.is_empty()).then_some(value);
    }
    reply
}

#[tokio::test]
async fn every_demo_form_refuses_a_forged_csrf_token_with_a_403_page() {
    let backend = Backend::memory();
    let mut client = Client::new(quickstart::router(&backend.factory(|b| b)));
    let token = csrf_token(&client.get("/").await.body);
    let signed_in = post(
        &mut client,
        "/login",
        &[("csrf_token", &token), ("name", "dana")],
    )
    .await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    let home = client.get("/").await;
    assert!(home.body.contains("Hello, dana"), "{}", home.body);
    let token = csrf_token(&home.body);

    let forms: [(&str, &[(&str, &str)]); 5] = [
        ("/login", &[("name", "mallory")]),
        ("/message", &[("message", "planted-message")]),
        ("/sessions/revoke", &[("tag", "anything")]),
        ("/sessions/revoke-others", &[]),
        ("/logout", &[]),
    ];
    for (path, fields) in forms {
        let mut with_token = vec![("csrf_token", "forged-token")];
        with_token.extend_from_slice(fields);
        let reply = post(&mut client, path, &with_token).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            reply.body.contains("Request refused"),
            "{path}: {}",
            reply.body
        );
        // Without any token: the same styled 403, not a plain 422.
        let reply = post(&mut client, path, fields).await;
        assert_eq!(
            reply.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        assert!(
            reply.body.contains("Request refused"),
            "{path}: {}",
            reply.body
        );
    }

    // Still signed in as dana, nothing flashed, the real token still works.
    let home = client.get("/").await;
    assert!(home.body.contains("Hello, dana"), "{}", home.body);
    assert!(!home.body.contains("planted-message"), "{}", home.body);
    assert!(!home.body.contains(r#"class="notice"#), "{}", home.body);
    assert_eq!(csrf_token(&home.body), token);
    let out = post(&mut client, "/logout", &[("csrf_token", &token)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let home = client.get("/").await;
    assert!(home.body.contains(r#"id="sign-in""#), "{}", home.body);
}

#[tokio::test]
async fn a_blank_or_overlong_name_does_not_sign_in() {
    let backend = Backend::memory();
    let mut client = Client::new(quickstart::router(&backend.factory(|b| b)));
    let long = "x".repeat(41);
    for name in ["", "   ", long.as_str()] {
        let token = csrf_token(&client.get("/").await.body);
        let reply = post(
            &mut client,
            "/login",
            &[("csrf_token", &token), ("name", name)],
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{name:?}");
        let home = client.get("/").await;
        assert!(
            home.body.contains(r#"data-user="""#),
            "{name:?}: {}",
            home.body
        );
        assert!(
            home.body.contains("Pick a name of 1 to 40 characters."),
            "{name:?}: {}",
            home.body
        );
    }
}
