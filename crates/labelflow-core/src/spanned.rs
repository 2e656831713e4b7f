//! Values that remember where they were written in `labelflow.yml`, so validation can name
//! the line. A leaf: every configuration module may use it.

use serde_saphyr::Spanned;

/// A string with the line/column where it appeared in the YAML file.
pub type Sp = Spanned<String>;
