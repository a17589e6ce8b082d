//! A provider's table loaded from CSV against a schema.
//!
//! Cells are trimmed strings; the schema's missing tokens become `None`. Loading refuses
//! only structural problems (a row with the wrong number of fields, a header that does
//! not match, sizes over the limits); value problems are left for the quality report.

use std::path::Path;

use crate::data::schema::Schema;
use crate::error::{LearnError, Result, check_max};
use crate::limits;

/// Rows of optional string cells, in schema column order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows; `None` is a missing value.
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// Reads a CSV file.
    pub fn read_csv(path: &Path, schema: &Schema) -> Result<Self> {
        let bytes = crate::error::read_file_max(path, limits::MODEL_BYTES_MAX)?;
        Self::parse_csv(&bytes, schema)
    }

    /// Parses CSV bytes.
    pub fn parse_csv(bytes: &[u8], schema: &Schema) -> Result<Self> {
        let names: Vec<String> = schema.columns.iter().map(|c| c.name.clone()).collect();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(schema.header)
            .trim(csv::Trim::All)
            .flexible(true)
            .comment(None)
            .from_reader(bytes);
        let data_err = |e: csv::Error| LearnError::Data(format!("csv: {e}"));
        if schema.header {
            let header: Vec<String> = reader
                .headers()
                .map_err(data_err)?
                .iter()
                .map(str::to_string)
                .collect();
            if header != names {
                return Err(LearnError::Data(format!(
                    "header {header:?} does not match the schema {names:?}"
                )));
            }
        }
        let mut rows = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            let rec = rec.map_err(data_err)?;
            if rec.len() == 1
                && rec
                    .get(0)
                    .is_some_and(|c| c.is_empty() || c.starts_with('|'))
            {
                continue; // blank line, or Adult's test-file banner
            }
            if rec.len() != names.len() {
                return Err(LearnError::Data(format!(
                    "row {} has {} fields, the schema has {}",
                    i + 1,
                    rec.len(),
                    names.len()
                )));
            }
            let row = rec
                .iter()
                .map(|c| {
                    check_max("cell size", c.len(), limits::CELL_BYTES_MAX)?;
                    Ok((!schema.is_missing(c)).then(|| c.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            rows.push(row);
            check_max("rows", rows.len(), limits::ROWS_MAX)?;
        }
        Ok(Self {
            columns: names,
            rows,
        })
    }

    /// Index of a column by name.
    pub fn index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| LearnError::Data(format!("no column named {name}")))
    }

    /// The values of one column.
    pub fn column(&self, name: &str) -> Result<Vec<Option<String>>> {
        let i = self.index(name)?;
        Ok(self.rows.iter().map(|r| r[i].clone()).collect())
    }

    /// Writes the table as CSV, with a header line if asked; missing cells are written as
    /// `missing`.
    pub fn write_csv(&self, path: &Path, missing: &str, header: bool) -> Result<()> {
        let io = |e: csv::Error| LearnError::Data(format!("csv write {}: {e}", path.display()));
        let mut w = csv::Writer::from_path(path).map_err(io)?;
        if header {
            w.write_record(&self.columns).map_err(io)?;
        }
        for r in &self.rows {
            w.write_record(r.iter().map(|c| c.as_deref().unwrap_or(missing)))
                .map_err(io)?;
        }
        w.flush().map_err(|source| LearnError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// The rows at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Self {
        Self {
            columns: self.columns.clone(),
            rows: indices.iter().map(|&i| self.rows[i].clone()).collect(),
        }
    }
}
