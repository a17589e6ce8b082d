//! The data-quality report a provider reads before registering a table: per column the
//! missing, invalid, out-of-range and unknown-category counts and the number of distinct
//! values; the label's class balance; and the number of exact duplicate rows (rows equal
//! to an earlier row).

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::data::schema::{CellCheck, Schema};
use crate::data::table::Table;
use crate::error::Result;

/// Counts for one column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ColumnQuality {
    /// Column name.
    pub name: String,
    /// Missing cells.
    pub missing: usize,
    /// Cells not of the column's type.
    pub invalid: usize,
    /// Numbers outside the declared range.
    pub out_of_range: usize,
    /// Categories not declared.
    pub unknown_category: usize,
    /// Distinct present values.
    pub distinct: usize,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct QualityReport {
    /// Rows.
    pub rows: usize,
    /// Per-column counts, in schema order.
    pub columns: Vec<ColumnQuality>,
    /// Rows per label value (missing labels under `""`), if the schema names a label.
    pub label_balance: Option<BTreeMap<String, usize>>,
    /// Rows identical to an earlier row.
    pub duplicate_rows: usize,
}

impl QualityReport {
    /// Whether any cell failed a check (missing values alone do not count).
    pub fn has_errors(&self) -> bool {
        self.columns
            .iter()
            .any(|c| c.invalid + c.out_of_range + c.unknown_category > 0)
    }
}

/// Builds the report.
pub fn report(table: &Table, schema: &Schema) -> Result<QualityReport> {
    let mut columns = Vec::with_capacity(schema.columns.len());
    for (i, c) in schema.columns.iter().enumerate() {
        let mut q = ColumnQuality {
            name: c.name.clone(),
            missing: 0,
            invalid: 0,
            out_of_range: 0,
            unknown_category: 0,
            distinct: 0,
        };
        let mut seen = HashSet::new();
        for row in &table.rows {
            let Some(cell) = &row[i] else {
                q.missing += 1;
                continue;
            };
            seen.insert(cell.as_str());
            match schema.check_cell(i, cell) {
                CellCheck::Ok => {}
                CellCheck::Missing => q.missing += 1,
                CellCheck::Invalid => q.invalid += 1,
                CellCheck::OutOfRange => q.out_of_range += 1,
                CellCheck::UnknownCategory => q.unknown_category += 1,
            }
        }
        q.distinct = seen.len();
        columns.push(q);
    }
    let label_balance = match &schema.label {
        Some(l) => {
            let i = schema.index(l)?;
            let mut m = BTreeMap::new();
            for row in &table.rows {
                *m.entry(row[i].clone().unwrap_or_default()).or_insert(0) += 1;
            }
            Some(m)
        }
        None => None,
    };
    let mut seen = HashSet::new();
    let duplicate_rows = table.rows.iter().filter(|r| !seen.insert(*r)).count();
    Ok(QualityReport {
        rows: table.rows.len(),
        columns,
        label_balance,
        duplicate_rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_report() {
        let schema = Schema::from_json(
            r#"{"columns":[{"name":"age","type":"int","min":0,"max":120},{"name":"sex","type":"category","categories":["F","M"]},{"name":"y","type":"category"}],"label":"y","missing":["?",""]}"#,
        )
        .unwrap();
        let csv = "age,sex,y\n30,F,1\n30,F,1\n200,M,0\nabc,X,1\n?,M,\n";
        let t = Table::parse_csv(csv.as_bytes(), &schema).unwrap();
        let r = report(&t, &schema).unwrap();
        assert_eq!(r.rows, 5);
        assert_eq!(r.duplicate_rows, 1);
        let age = &r.columns[0];
        assert_eq!(
            (age.missing, age.invalid, age.out_of_range, age.distinct),
            (1, 1, 1, 3)
        );
        assert_eq!(r.columns[1].unknown_category, 1);
        let lb = r.label_balance.clone().unwrap();
        assert_eq!((lb["1"], lb["0"], lb[""]), (3, 1, 1));
        assert!(r.has_errors());
        assert!(Table::parse_csv(b"age,sex,y\n1,F\n", &schema).is_err());
        assert!(Table::parse_csv(b"age,sex\n1,F\n", &schema).is_err());
    }
}
