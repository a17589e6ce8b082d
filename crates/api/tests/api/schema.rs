//! A structural JSON Schema check, enough for the subset utoipa emits: `$ref`, `type` (one
//! or a list), `properties`/`required`/`additionalProperties`, `items`, `enum`, `oneOf`,
//! `anyOf`, `allOf`, `minimum` and string `pattern`s.

use serde_json::Value;

/// Checks `value` against `schema`, resolving `$ref`s in `doc`; returns every mismatch.
pub(crate) fn check(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    walk(doc, schema, value, "$", &mut errors);
    errors
}

fn resolve<'a>(doc: &'a Value, reference: &str) -> &'a Value {
    let pointer = reference.strip_prefix('#').expect("local references only");
    doc.pointer(pointer)
        .unwrap_or_else(|| panic!("dangling reference {reference}"))
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type {other}"),
    }
}

fn walk(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return walk(doc, resolve(doc, reference), value, at, errors);
    }
    if let Some(types) = schema.get("type") {
        let names: Vec<&str> = match types {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => panic!("bad type at {at}"),
        };
        if !names.iter().any(|name| type_matches(name, value)) {
            errors.push(format!("{at}: {value} is not of type {names:?}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if let (Some(minimum), Some(number)) = (schema.get("minimum"), value.as_f64())
        && number < minimum.as_f64().unwrap()
    {
        errors.push(format!("{at}: {number} is below {minimum}"));
    }
    if let (Some(pattern), Some(text)) = (schema.get("pattern"), value.as_str()) {
        let pattern = regex::Regex::new(pattern.as_str().unwrap()).expect("a valid pattern");
        if !pattern.is_match(text) {
            errors.push(format!("{at}: {text:?} does not match {pattern}"));
        }
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for part in all {
            walk(doc, part, value, at, errors);
        }
    }
    for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(options) = schema.get(keyword).and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|option| check(doc, option, value).is_empty())
                .count();
            let ok = if exactly_one {
                matching == 1
            } else {
                matching >= 1
            };
            if !ok {
                errors.push(format!(
                    "{at}: {matching} of the {keyword} options match {value}"
                ));
            }
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (index, item) in array.iter().enumerate() {
            walk(doc, items, item, &format!("{at}[{index}]"), errors);
        }
    }
    if let Some(object) = value.as_object() {
        check_object(doc, schema, object, at, errors);
    }
}

fn check_object(
    doc: &Value,
    schema: &Value,
    object: &serde_json::Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    for name in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let name = name.as_str().unwrap();
        if !object.contains_key(name) {
            errors.push(format!("{at}: missing required field {name:?}"));
        }
    }
    for (name, field) in object {
        match properties.and_then(|p| p.get(name)) {
            Some(field_schema) => walk(doc, field_schema, field, &format!("{at}.{name}"), errors),
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                errors.push(format!("{at}: unexpected field {name:?}"));
            }
            None => {}
        }
    }
}

/// The schema of `method path`'s response with `status`, as JSON.
pub(crate) fn response_schema<'a>(
    doc: &'a Value,
    method: &str,
    path: &str,
    status: u16,
) -> &'a Value {
    let pointer = format!(
        "/paths/{}/{method}/responses/{status}/content",
        path.replace('~', "~0").replace('/', "~1")
    );
    let content = doc
        .pointer(&pointer)
        .unwrap_or_else(|| panic!("no {status} response documented for {method} {path}"));
    let (_, media) = content.as_object().unwrap().iter().next().unwrap();
    &media["schema"]
}

/// Asserts that `value` validates against the documented `status` response of the route.
pub(crate) fn assert_valid(doc: &Value, method: &str, path: &str, status: u16, value: &Value) {
    let schema = response_schema(doc, method, path, status);
    let errors = check(doc, schema, value);
    assert!(
        errors.is_empty(),
        "{method} {path} {status} body does not match its schema:\n{}\n{value:#}",
        errors.join("\n")
    );
}
