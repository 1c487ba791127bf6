//! Every write endpoint against every kind of token.

mod common;

use axum::http::{Method, StatusCode};
use common::app::{Backend, TestApp, error_code};
use common::fixtures;
use depot::auth::Scope;
use depot::domain::Namespace;
use depot::store::PackageRef;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Garbage,
    Expired,
    Owner,
    OwnerWrongScope,
    OwnerOtherPackage,
    OtherPublisher,
    Admin,
}

const EVERYONE: [Who; 8] = [
    Who::Anonymous,
    Who::Garbage,
    Who::Expired,
    Who::Owner,
    Who::OwnerWrongScope,
    Who::OwnerOtherPackage,
    Who::OtherPublisher,
    Who::Admin,
];

async fn authorization_matrix(backend: Backend) {
    let app = TestApp::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let owner = app.account("owner", &[]).await;
    let owner_id = app
        .store()
        .account_by_username("owner")
        .await
        .unwrap()
        .unwrap()
        .id;
    let other = app.account("stranger", &[]).await;
    let admin = app.account("root-admin", &[Scope::Admin]).await;
    let (status, _) = app
        .post("/v1/snap", Some(&owner), json!({"name": "guarded"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let snap = fixtures::build_snap(
        dir.path(),
        "name: guarded\nversion: '1'\nsummary: s\ndescription: d\narchitectures: [amd64]\n",
    );
    // Revision 1 exists for the release and listing endpoints.
    let (status, _) = app.push("snap", "guarded", &snap, &owner).await;
    assert_eq!(status, StatusCode::OK);

    let elsewhere = Some(vec![PackageRef {
        namespace: Namespace::Snap,
        name: "somewhere-else".into(),
    }]);
    let expired_at = Some(chrono::Utc::now() - chrono::Duration::minutes(1));

    // (label, method, path, body, scope needed, is registration)
    let endpoints: Vec<(&str, Method, String, Value, Scope, bool)> = vec![
        (
            "register",
            Method::POST,
            "/v1/snap".into(),
            json!({}),
            Scope::AccountRegisterPackage,
            true,
        ),
        (
            "push",
            Method::POST,
            "/v1/snap/guarded/revisions".into(),
            json!({}),
            Scope::PackageUpload,
            false,
        ),
        (
            "list revisions",
            Method::GET,
            "/v1/snap/guarded/revisions".into(),
            Value::Null,
            Scope::PackageUpload,
            false,
        ),
        (
            "release",
            Method::POST,
            "/v1/snap/guarded/releases".into(),
            json!([{"channel": "edge", "revision": 1}]),
            Scope::PackageRelease,
            false,
        ),
        (
            "close",
            Method::POST,
            "/v1/snap/guarded/releases".into(),
            json!([{"channel": "edge", "revision": null}]),
            Scope::PackageRelease,
            false,
        ),
        (
            "list releases",
            Method::GET,
            "/v1/snap/guarded/releases".into(),
            Value::Null,
            Scope::PackageRelease,
            false,
        ),
        (
            "create track",
            Method::POST,
            "/v1/snap/guarded/tracks".into(),
            json!([{"name": "9"}]),
            Scope::PackageManage,
            false,
        ),
    ];
    let mut counter = 0;
    for (label, method, path, body, scope, registration) in &endpoints {
        for who in EVERYONE {
            let wrong_scope = Scope::PUBLISHER.into_iter().find(|s| s != scope).unwrap();
            let token = match who {
                Who::Anonymous => None,
                Who::Garbage => Some("depot_not-a-real-token".to_string()),
                Who::Expired => Some(app.token_for(&owner_id, &[], None, expired_at).await),
                Who::Owner => Some(owner.clone()),
                Who::OwnerWrongScope => {
                    Some(app.token_for(&owner_id, &[wrong_scope], None, None).await)
                }
                Who::OwnerOtherPackage => {
                    Some(app.token_for(&owner_id, &[], elsewhere.clone(), None).await)
                }
                Who::OtherPublisher => Some(other.clone()),
                Who::Admin => Some(admin.clone()),
            };
            let body = if *registration {
                counter += 1;
                Some(json!({"name": format!("fresh-name-{counter}")}))
            } else if label == &"push" {
                let (_, up) = app.upload(&snap, None).await;
                Some(json!({"upload-id": up["upload_id"]}))
            } else if body.is_null() {
                None
            } else {
                Some(body.clone())
            };
            let (status, response) = app.call(method.clone(), path, token.as_deref(), body).await;
            let expected: (StatusCode, Option<&str>) = match who {
                Who::Anonymous => (StatusCode::UNAUTHORIZED, Some("unauthorized")),
                Who::Garbage => (StatusCode::UNAUTHORIZED, Some("invalid-token")),
                Who::Expired => (StatusCode::UNAUTHORIZED, Some("token-expired")),
                Who::Owner | Who::Admin => (StatusCode::OK, None),
                // Anyone with the scope may register a new name.
                Who::OtherPublisher if *registration => (StatusCode::OK, None),
                Who::OwnerWrongScope | Who::OwnerOtherPackage | Who::OtherPublisher => {
                    (StatusCode::FORBIDDEN, Some("permission-denied"))
                }
            };
            assert_eq!(status, expected.0, "{label} as {who:?}: {response}");
            if let Some(code) = expected.1 {
                assert_eq!(error_code(&response), code, "{label} as {who:?}");
            }
        }
    }
    // whoami needs a token, and reports the token's scopes.
    let (status, body) = app.get("/v1/tokens/whoami", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = app.get("/v1/tokens/whoami", Some(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["account"]["username"], "owner");
    assert!(
        body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("package-manage-releases"))
    );
    // Bearer works like Macaroon.
    let request = axum::http::Request::get("/v1/tokens/whoami")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.raw(request).await.status(), StatusCode::OK);
}

both_backends!(authorization_matrix);
