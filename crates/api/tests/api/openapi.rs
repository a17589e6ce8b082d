//! The OpenAPI document matches what the server does: every route it serves is documented
//! with its methods (and nothing else is), and real responses validate against the
//! documented schemas.

use std::collections::BTreeSet;

use aifactory_ledger::testing::TestChain;
use aifactory_types::Hash;
use serde_json::Value;

use crate::fixture::{TestNode, start, unlimited};
use crate::schema::assert_valid;

/// The routes the issue asks for, and the methods each takes.
const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/txs"),
    ("post", "/v1/txs/batch"),
    ("get", "/v1/txs/{hash}"),
    ("get", "/v1/accounts/{address}"),
    ("get", "/v1/blocks/{id}"),
    ("get", "/v1/datasets"),
    ("get", "/v1/datasets/{id}"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{id}"),
    ("get", "/v1/models/{id}/provenance"),
    ("get", "/v1/jobs"),
    ("get", "/v1/jobs/{id}"),
    ("get", "/v1/jobs/{id}/rounds/{round}"),
    ("get", "/v1/deployments"),
    ("get", "/v1/deployments/{id}"),
    ("get", "/v1/models/{id}/deployments"),
    ("get", "/v1/channels/{id}"),
    ("get", "/v1/accounts/{address}/channels"),
    ("get", "/v1/challenges"),
    ("get", "/v1/challenges/{id}"),
    ("get", "/v1/status"),
    ("put", "/v1/blobs/{hash}"),
    ("get", "/v1/blobs/{hash}"),
    ("get", "/v1/events"),
    ("get", "/v1/sync/epochs"),
    ("get", "/v1/sync/snapshot"),
    ("get", "/v1/openapi.json"),
];

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|m| item.get(**m).is_some())
                .map(move |m| (m.to_string(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn every_served_route_is_documented_with_its_methods() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let doc = server.client.openapi().await.unwrap();
    assert_eq!(doc["openapi"].as_str().unwrap().get(..3), Some("3.1"));
    assert_eq!(doc, serde_json::to_value(aifactory_api::openapi()).unwrap());
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented(&doc), expected);

    // Probe the live server: a documented method is routed (whatever the handler then says
    // about the placeholder parameter); an undocumented one on a documented path is a 405.
    let http = reqwest::Client::new();
    let paths: BTreeSet<&str> = ROUTES.iter().map(|(_, p)| *p).collect();
    for path in paths {
        let concrete = path
            .replace("{hash}", &Hash([1; 32]).to_string())
            .replace("{address}", "x")
            .replace("{id}", "1")
            .replace("{round}", "0");
        for method in METHODS {
            let is_documented = ROUTES.contains(&(method, path));
            if method == "get" && path == "/v1/events" {
                continue; // an open stream; covered by its own test
            }
            let response = http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    server.url(&concrete),
                )
                .header("content-type", "application/octet-stream")
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let code = body["error"]["code"].as_str().unwrap_or("");
            if is_documented {
                assert!(
                    status != 405 && code != "route_not_found",
                    "{method} {concrete} is documented but not served ({status} {code})"
                );
            } else {
                assert_eq!(
                    (status, code),
                    (405, "method_not_allowed"),
                    "{method} {concrete}"
                );
            }
        }
    }
}

#[tokio::test]
async fn responses_validate_against_their_documented_schemas() {
    let server = start(TestNode::sealing(), unlimited()).await;
    let doc = server.client.openapi().await.unwrap();
    let chain = server.node.chain();
    let ok = chain.tx(1, TestChain::transfer_to(chain.address(2), 5));
    let overdraft = chain.tx(2, TestChain::transfer_to(chain.address(1), u64::MAX / 2));
    let http = reqwest::Client::new();
    let get = |path: String| {
        let http = http.clone();
        let url = server.url(&path);
        async move {
            let response = http.get(url).send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap(),
            )
        }
    };

    let accepted = server.client.submit_tx(&ok).await.unwrap();
    assert_valid(
        &doc,
        "post",
        "/v1/txs",
        202,
        &serde_json::to_value(&accepted).unwrap(),
    );
    server.client.submit_tx(&overdraft).await.unwrap();

    for tx in [&ok, &overdraft] {
        let (status, body) = get(format!("/v1/txs/{}", tx.hash())).await;
        assert_eq!(status, 200);
        assert_valid(&doc, "get", "/v1/txs/{hash}", 200, &body);
    }
    assert_eq!(
        get(format!("/v1/txs/{}", overdraft.hash())).await.1["status"]["receipt"]["outcome"]["error"]
            ["code"],
        "insufficient_funds",
        "the failed receipt is among the checked bodies"
    );
    let (status, body) = get(format!("/v1/accounts/{}", chain.address(1))).await;
    assert_eq!(status, 200);
    assert_valid(&doc, "get", "/v1/accounts/{address}", 200, &body);
    for id in ["1", "latest"] {
        let (status, body) = get(format!("/v1/blocks/{id}")).await;
        assert_eq!(status, 200);
        assert_valid(&doc, "get", "/v1/blocks/{id}", 200, &body);
    }
    let (status, body) = get("/v1/status".to_owned()).await;
    assert_eq!(status, 200);
    assert_valid(&doc, "get", "/v1/status", 200, &body);

    for (path, status) in [
        ("/v1/txs/00", 400),
        (&*format!("/v1/txs/{}", Hash([9; 32])), 404),
        ("/v1/accounts/nope", 400),
    ] {
        let (got, body) = get(path.to_owned()).await;
        assert_eq!(got, status);
        let route = if path.starts_with("/v1/txs") {
            "/v1/txs/{hash}"
        } else {
            "/v1/accounts/{address}"
        };
        assert_valid(&doc, "get", route, status, &body);
    }

    let blob = bytes::Bytes::from_static(b"a model's weights");
    let hash = Hash::from(blake3::hash(&blob));
    let stored = server.client.put_blob(&hash, blob).await.unwrap();
    assert_valid(
        &doc,
        "put",
        "/v1/blobs/{hash}",
        201,
        &serde_json::to_value(&stored).unwrap(),
    );
}

#[test]
fn the_schema_check_can_fail() {
    let doc = serde_json::to_value(aifactory_api::openapi()).unwrap();
    let schema = crate::schema::response_schema(&doc, "get", "/v1/status", 200);
    let wrong = serde_json::json!({"chain_id": 5, "height": 1, "state_root": "abc"});
    let errors = crate::schema::check(&doc, schema, &wrong);
    assert!(errors.iter().any(|e| e.contains("chain_id")), "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("missing required field \"peers\"")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("state_root") && e.contains("does not match")),
        "{errors:?}"
    );
}

/// The variant names of the `pub enum NAME` in a source file of the types crate, in
/// snake_case as serde writes them.
fn variants(source: &str, name: &str) -> Vec<String> {
    let start = source
        .find(&format!("pub enum {name} {{"))
        .expect("the enum is in the file");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("the enum ends")];
    body.lines()
        .filter_map(|line| {
            // A variant starts at four spaces of indentation with a capital letter.
            let rest = line.strip_prefix("    ")?;
            let first = rest.chars().next()?;
            if !first.is_ascii_uppercase() {
                return None;
            }
            let ident: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            let mut snake = String::new();
            for (i, c) in ident.chars().enumerate() {
                if c.is_ascii_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_lowercase());
            }
            Some(snake)
        })
        .collect()
}

/// The values of a documented string enum (inlined, so under a one-element `oneOf`).
fn documented_enum(doc: &Value, schema: &str, property: &str) -> BTreeSet<String> {
    doc["components"]["schemas"][schema]["properties"][property]["oneOf"][0]["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("{schema}.{property} is a documented enum"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Every `TxError` code, `Event` kind and `Payload` kind the ledger can produce is documented, so a
/// receipt of any transaction validates against the document (the lists are written by hand
/// in `schemas.rs`; this catches a variant added to the types and not there).
#[test]
fn every_error_code_and_event_kind_is_documented() {
    let doc = serde_json::to_value(aifactory_api::openapi()).unwrap();
    let types = concat!(env!("CARGO_MANIFEST_DIR"), "/../types/src/");
    let errors = std::fs::read_to_string(format!("{types}error.rs")).unwrap();
    let events = std::fs::read_to_string(format!("{types}event.rs")).unwrap();
    let codes = documented_enum(&doc, "TxErrorSchema", "code");
    let kinds = documented_enum(&doc, "EventSchema", "kind");
    let error_variants = variants(&errors, "TxError");
    let event_variants = variants(&events, "Event");
    assert!(error_variants.len() > 40 && event_variants.len() > 25);
    for code in error_variants {
        assert!(codes.contains(&code), "TxError::{code} is not documented");
    }
    for kind in event_variants {
        assert!(kinds.contains(&kind), "Event::{kind} is not documented");
    }
    let payloads = std::fs::read_to_string(format!("{types}payload.rs")).unwrap();
    let payload_kinds = documented_enum(&doc, "PayloadSchema", "kind");
    let payload_variants = variants(&payloads, "Payload");
    assert!(payload_variants.len() > 20);
    for kind in payload_variants {
        assert!(
            payload_kinds.contains(&kind),
            "Payload::{kind} is not documented"
        );
    }
}

/// Every kind of `ChainEvent` the stream sends is named in the SSE message schema, and
/// described in `ChainEvent`'s own schema.
#[test]
fn every_chain_event_kind_is_documented() {
    let doc = serde_json::to_value(aifactory_api::openapi()).unwrap();
    let views = include_str!("../../src/views.rs");
    let names = documented_enum(&doc, "ChainEventMessage", "event");
    let kinds = variants(views, "ChainEvent");
    assert!(kinds.len() >= 4, "{kinds:?}");
    let schema = doc["components"]["schemas"]["ChainEvent"].to_string();
    for kind in kinds {
        assert!(
            names.contains(&kind),
            "ChainEvent::{kind} is not an SSE event name"
        );
        assert!(
            schema.contains(&format!("\"{kind}\"")),
            "ChainEvent::{kind} is not in the ChainEvent schema"
        );
    }
}
