//! The operations' paths and methods, read once from the OpenAPI documents:
//! what a 405 names in `Allow`, and the names of a path's parameters for
//! errors about them (the router numbers them internally).

/// One path of a document: its segments and the methods it answers.
#[derive(Debug)]
struct PathEntry {
    segments: Vec<Segment>,
    methods: Vec<String>,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Param(String),
}

/// Every operation path of the served documents.
#[derive(Debug, Default)]
pub struct Routes {
    paths: Vec<PathEntry>,
}

impl Routes {
    /// Reads the paths of OpenAPI documents, each served under `prefix`.
    pub fn from_documents<'a>(documents: impl IntoIterator<Item = (&'a str, String)>) -> Self {
        let mut paths = Vec::new();
        for (prefix, document) in documents {
            let Ok(doc) = serde_json::from_str::<serde_json::Value>(&document) else {
                continue;
            };
            let Some(map) = doc.get("paths").and_then(|p| p.as_object()) else {
                continue;
            };
            for (template, item) in map {
                let segments = format!("{prefix}{template}")
                    .split('/')
                    .filter(|s| !s.is_empty())
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => Segment::Param(name.to_owned()),
                            None => Segment::Literal(s.to_owned()),
                        },
                    )
                    .collect();
                let mut methods: Vec<String> = item
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .filter(|k| {
                        matches!(
                            k.as_str(),
                            "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                        )
                    })
                    .map(|k| k.to_ascii_uppercase())
                    .collect();
                if methods.iter().any(|m| m == "GET") {
                    methods.push("HEAD".into());
                }
                methods.sort();
                methods.dedup();
                paths.push(PathEntry { segments, methods });
            }
        }
        Self { paths }
    }

    /// The path entry `path` falls under; literal segments win over
    /// parameters (`/courses/trash` before `/courses/{course_id}`).
    fn find(&self, path: &str) -> Option<&PathEntry> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.paths
            .iter()
            .filter(|e| {
                e.segments.len() == parts.len()
                    && e.segments.iter().zip(&parts).all(|(s, p)| match s {
                        Segment::Literal(l) => l == p,
                        Segment::Param(_) => true,
                    })
            })
            .max_by_key(|e| {
                e.segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            })
    }

    /// The methods `path` answers, for `Allow` (empty when unknown).
    pub fn allowed(&self, path: &str) -> String {
        self.find(path)
            .map(|e| e.methods.join(", "))
            .unwrap_or_default()
    }

    /// The name of the `index`-th parameter (from 0, in path order) of the
    /// path `path` falls under.
    pub fn parameter_name(&self, path: &str, index: usize) -> Option<&str> {
        self.find(path)?
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(name) => Some(name.as_str()),
                Segment::Literal(_) => None,
            })
            .nth(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes() -> Routes {
        let doc = serde_json::json!({ "paths": {
            "/courses/{course_id}": { "get": {}, "patch": {}, "delete": {} },
            "/courses/trash": { "get": {} },
            "/courses/{course_id}/lessons/{lesson_id}": { "put": {} },
        }});
        Routes::from_documents([("/api/v1", doc.to_string())])
    }

    #[test]
    fn literal_segments_win_and_parameters_are_named_in_path_order() {
        let r = routes();
        assert_eq!(r.allowed("/api/v1/courses/trash"), "GET, HEAD");
        assert_eq!(r.allowed("/api/v1/courses/x"), "DELETE, GET, HEAD, PATCH");
        assert_eq!(r.allowed("/api/v1/nothing"), "");
        assert_eq!(
            r.parameter_name("/api/v1/courses/a/lessons/b", 1),
            Some("lesson_id")
        );
        assert_eq!(r.parameter_name("/api/v1/courses/a", 0), Some("course_id"));
    }
}
