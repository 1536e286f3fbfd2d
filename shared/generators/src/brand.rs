//! The brand-metadata artifact type as a model sees it: its instructions and its JSON Schema.
//! Until artifact types become data, this is the only type; the schema states the rules of
//! `hitl_domain::metadata::validate` (a test checks the two agree on a set of drafts).

use serde_json::Value;

/// Name of the schema in `response_format.json_schema.name` (letters, digits, `_`, `-`).
pub const SCHEMA_NAME: &str = "brand_metadata";

/// What the model is asked to do, before the schema.
pub const INSTRUCTIONS: &str = "\
You write brand metadata for a product catalogue. Reviewers read every draft and tell you what \
to change; their feedback is the most important input you have.

Rules:
- Answer with one JSON object that matches the JSON Schema below, and nothing else: no prose, \
no Markdown fences.
- Apply every correction exactly: a corrected field takes the reviewer's value, word for word.
- Act on every comment: when a reviewer asks for a word, a tone or an idea, it appears in the \
next draft; when a reviewer rejects a value, never offer it again.
- Follow the escalation guidance, when there is some: it comes from the person who granted \
more iterations and outranks earlier comments.
- Keep what reviewers did not criticise; change what they did.
- Write grammatical English: full sentences in the description, no placeholders.";

/// The JSON Schema of a brand-metadata draft, as sent in `response_format`.
///
/// It is what `hitl_domain::metadata::validate` accepts, written for structured-output
/// servers: every property is listed in `required` and `additionalProperties` is false at
/// every level (OpenAI's `strict` mode asks for both), so `colors.secondary`, optional for
/// `validate`, is required here. Two rules are not expressible and are left to `validate`
/// (and the repair round): keywords unique without regard to case, and the 16 KiB size cap.
pub const SCHEMA: &str = r##"{
  "type": "object",
  "additionalProperties": false,
  "required": ["name", "tagline", "description", "category", "tone", "target_audience", "keywords", "colors"],
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 120, "description": "The brand's name."},
    "tagline": {"type": "string", "minLength": 1, "maxLength": 160, "description": "One short line that sells the brand."},
    "description": {"type": "string", "minLength": 20, "maxLength": 2000, "description": "A few grammatical sentences about the brand."},
    "category": {"type": "string", "minLength": 1, "maxLength": 60},
    "tone": {"type": "string", "enum": ["friendly", "premium", "playful", "professional", "bold"]},
    "target_audience": {"type": "string", "minLength": 1, "maxLength": 200},
    "keywords": {
      "type": "array",
      "minItems": 3,
      "maxItems": 15,
      "uniqueItems": true,
      "items": {"type": "string", "minLength": 1, "pattern": "\\S"}
    },
    "colors": {
      "type": "object",
      "additionalProperties": false,
      "required": ["primary", "secondary"],
      "properties": {
        "primary": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"},
        "secondary": {"type": "string", "pattern": "^#[0-9A-Fa-f]{6}$"}
      }
    }
  }
}"##;

/// [`SCHEMA`] as a JSON value.
pub fn schema() -> Value {
    // A constant checked by the tests below: it always parses.
    serde_json::from_str(SCHEMA).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use hitl_domain::metadata;
    use serde_json::json;

    fn valid() -> Value {
        json!({
            "name": "Cedar Candles",
            "tagline": "Light the morning ritual",
            "description": "Cedar Candles makes hand-poured soy candles for slow mornings.",
            "category": "home",
            "tone": "friendly",
            "target_audience": "people who start the day slowly",
            "keywords": ["candles", "soy", "morning"],
            "colors": {"primary": "#A0522D", "secondary": "#F5F5DC"}
        })
    }

    #[test]
    fn the_schema_parses_and_is_a_json_schema() {
        let schema: Value = serde_json::from_str(SCHEMA).expect("SCHEMA is JSON");
        jsonschema::validator_for(&schema).expect("SCHEMA is a valid JSON Schema");
    }

    type Mutation = Box<dyn Fn(&mut Value)>;

    #[test]
    fn the_schema_accepts_exactly_what_validate_accepts_on_these_drafts() {
        // GIVEN one valid draft and drafts that each break one rule of `validate`
        let validator = jsonschema::validator_for(&schema()).unwrap();
        let mutations: Vec<(&str, Mutation)> = vec![
            ("name empty", Box::new(|d| d["name"] = json!(""))),
            (
                "name too long",
                Box::new(|d| d["name"] = json!("n".repeat(121))),
            ),
            (
                "tagline too long",
                Box::new(|d| d["tagline"] = json!("t".repeat(161))),
            ),
            (
                "description short",
                Box::new(|d| d["description"] = json!("too short")),
            ),
            (
                "category long",
                Box::new(|d| d["category"] = json!("c".repeat(61))),
            ),
            (
                "audience long",
                Box::new(|d| d["target_audience"] = json!("a".repeat(201))),
            ),
            ("tone unknown", Box::new(|d| d["tone"] = json!("grumpy"))),
            ("tone number", Box::new(|d| d["tone"] = json!(3))),
            (
                "two keywords",
                Box::new(|d| d["keywords"] = json!(["a", "b"])),
            ),
            (
                "16 keywords",
                Box::new(|d| {
                    d["keywords"] = json!((0..16).map(|i| format!("k{i}")).collect::<Vec<_>>())
                }),
            ),
            (
                "blank keyword",
                Box::new(|d| d["keywords"] = json!(["a", "b", "  "])),
            ),
            (
                "repeated keyword",
                Box::new(|d| d["keywords"] = json!(["a", "b", "a"])),
            ),
            (
                "keyword number",
                Box::new(|d| d["keywords"] = json!(["a", "b", 3])),
            ),
            (
                "bad primary",
                Box::new(|d| d["colors"]["primary"] = json!("red")),
            ),
            (
                "bad secondary",
                Box::new(|d| d["colors"]["secondary"] = json!("#12345G")),
            ),
            ("extra field", Box::new(|d| d["slogan"] = json!("x"))),
            (
                "missing colors",
                Box::new(|d| {
                    d.as_object_mut().unwrap().remove("colors");
                }),
            ),
            (
                "missing name",
                Box::new(|d| {
                    d.as_object_mut().unwrap().remove("name");
                }),
            ),
        ];
        // THEN the valid one passes both, and each broken one fails both
        assert!(metadata::validate(&valid()).is_empty());
        assert!(validator.is_valid(&valid()));
        for (what, mutate) in mutations {
            let mut draft = valid();
            mutate(&mut draft);
            assert!(
                !metadata::validate(&draft).is_empty(),
                "validate accepted: {what}"
            );
            assert!(!validator.is_valid(&draft), "the schema accepted: {what}");
        }
    }

    #[test]
    fn every_property_is_required_as_strict_mode_asks() {
        let schema = schema();
        for object in [&schema, &schema["properties"]["colors"]] {
            let properties: Vec<&String> =
                object["properties"].as_object().unwrap().keys().collect();
            let required: Vec<&str> = object["required"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert_eq!(properties.len(), required.len());
            assert!(properties.iter().all(|p| required.contains(&p.as_str())));
            assert_eq!(object["additionalProperties"], json!(false));
        }
    }
}
