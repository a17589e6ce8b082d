//! A job's standardisation statistics, measured over every provider's rows by secure
//! aggregation, so that no provider reveals its own.
//!
//! A developer who has no representative rows publishes a starting model whose featurizer
//! fixes the encoding (numeric columns, categories) but leaves the numeric columns' mean and
//! standard deviation pending (`aifactory model init --statistics secure`). A secure job on
//! such a model spends its first round on them: each provider masks, for every numeric column,
//! its count of values, their sum and their sum of squares, as exact integers; the unmasked
//! sum gives the global mean and population standard deviation, and the round's model is the
//! starting weights with those statistics filled in. The sums are exact (no quantisation
//! error, nothing stochastic), so anyone replays the round bit for bit.
//!
//! Encoding: a value x becomes the integer round(x · 2^16) (|x| at most 2^32); per column the
//! provider sums count, x and x² as `i128`. Each total is taken modulo 2^128 (two's
//! complement) and cut into eight 16-bit limbs, each a coordinate of the masked vector; the
//! limbs' sums recombine, with wrapping, into the exact totals.

use aifactory_learn::data::features::Featurizer;
use aifactory_learn::data::table::Table;
use aifactory_learn::store::StoredModel;
use anyhow::{anyhow, bail};
use serde::Serialize;

/// Fractional bits of the fixed-point values.
pub const FIXED_POINT_BITS: u32 = 16;
/// Bits of each limb of a total (at most the secure round's value bits).
pub const LIMB_BITS: u32 = 16;
/// Limbs of each 128-bit total.
pub const LIMBS: usize = 128 / LIMB_BITS as usize;
/// The largest magnitude of a value: its square in fixed point, summed over 2^30 rows, stays
/// within `i128`.
pub const VALUE_ABS_MAX: f64 = 4_294_967_296.0;
/// Totals per numeric column: count, sum, sum of squares.
const TOTALS: usize = 3;

/// The featurizer of `start` if its statistics are still to be measured: a round that starts
/// from such a model is a statistics round.
pub fn pending(start: &StoredModel) -> Option<&Featurizer> {
    start.features.as_ref().filter(|f| f.statistics_pending)
}

/// Coordinates of the masked vector for `features`.
pub fn width(features: &Featurizer) -> usize {
    features.numeric_columns().len() * TOTALS * LIMBS
}

/// This provider's limbs: per numeric column, its count, sum and sum of squares of the rows'
/// values in fixed point.
pub fn local(features: &Featurizer, table: &Table) -> anyhow::Result<Vec<u64>> {
    let mut out = Vec::with_capacity(width(features));
    for name in features.numeric_columns() {
        let index = table.index(name).map_err(|e| anyhow!("{e}"))?;
        let (mut count, mut sum, mut squares) = (0i128, 0i128, 0i128);
        for row in &table.rows {
            let Some(text) = row[index].as_deref() else {
                continue;
            };
            let x: f64 = text
                .parse()
                .map_err(|_| anyhow!("column {name}: {text:?} is not a number"))?;
            if !(x.is_finite() && x.abs() <= VALUE_ABS_MAX) {
                bail!("column {name}: {x} is beyond ±{VALUE_ABS_MAX}, which the statistics take");
            }
            let fixed = (x * f64::from(1u32 << FIXED_POINT_BITS)).round() as i128;
            let overflow = || anyhow!("column {name}: the sums overflow");
            count += 1;
            sum = sum.checked_add(fixed).ok_or_else(overflow)?;
            squares = squares.checked_add(fixed * fixed).ok_or_else(overflow)?;
        }
        for total in [count, sum, squares] {
            out.extend(limbs(total));
        }
    }
    Ok(out)
}

/// What the round measured, per numeric column: the exact totals and the statistics taken
/// from them. Published as the round's aggregate blob (JSON), so anyone can read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measured {
    /// Fractional bits of the fixed-point sums.
    pub fixed_point_bits: u32,
    /// One entry per numeric column, in feature order.
    pub columns: Vec<ColumnTotals>,
}

/// One numeric column's totals over every surviving provider.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnTotals {
    /// The column.
    pub name: String,
    /// Values present.
    pub count: String,
    /// Σ round(x · 2^16).
    pub sum: String,
    /// Σ round(x · 2^16)².
    pub sum_of_squares: String,
    /// The mean.
    pub mean: f64,
    /// The population standard deviation.
    pub std: f64,
}

/// Reads the unmasked limb sums into the totals and statistics of each numeric column; a
/// column that counts more values than the survivors' `rows` (or a negative total) is refused.
pub fn measure(features: &Featurizer, sums: &[u64], rows: u64) -> anyhow::Result<Measured> {
    if sums.len() != width(features) {
        bail!(
            "{} sums for an encoding that takes {}",
            sums.len(),
            width(features)
        );
    }
    let scale = f64::from(1u32 << FIXED_POINT_BITS);
    let columns = features
        .numeric_columns()
        .into_iter()
        .zip(sums.chunks(TOTALS * LIMBS))
        .map(|(name, chunk)| {
            let [count, sum, squares] = [0, 1, 2].map(|t| recombine(&chunk[t * LIMBS..][..LIMBS]));
            if count < 0 || squares < 0 {
                bail!("column {name}: a negative count or sum of squares (a provider lied)");
            }
            if count > i128::from(rows) {
                bail!("column {name} counts {count} values, more than the survivors' {rows} rows");
            }
            let n = count.max(1) as f64;
            let mean = sum as f64 / scale / n;
            let second = squares as f64 / (scale * scale) / n;
            let std = (second - mean * mean).max(0.0).sqrt().max(1e-12);
            Ok(ColumnTotals {
                name: name.to_owned(),
                count: count.to_string(),
                sum: sum.to_string(),
                sum_of_squares: squares.to_string(),
                mean,
                std,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(Measured {
        fixed_point_bits: FIXED_POINT_BITS,
        columns,
    })
}

impl Measured {
    /// The featurizer with these statistics filled in.
    pub fn apply(&self, features: &Featurizer) -> anyhow::Result<Featurizer> {
        let pairs: Vec<(f64, f64)> = self.columns.iter().map(|c| (c.mean, c.std)).collect();
        features
            .with_statistics(&pairs)
            .map_err(|e| anyhow!("the measured statistics: {e}"))
    }

    /// The blob published as the round's aggregate.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("totals serialise")
    }
}

/// `total` modulo 2^128, least significant limb first.
fn limbs(total: i128) -> impl Iterator<Item = u64> {
    let bits = total as u128;
    (0..LIMBS).map(move |k| ((bits >> (k as u32 * LIMB_BITS)) & ((1 << LIMB_BITS) - 1)) as u64)
}

/// The total whose limbs summed to `sums`, modulo 2^128, as a signed number.
fn recombine(sums: &[u64]) -> i128 {
    sums.iter().enumerate().fold(0u128, |acc, (k, s)| {
        acc.wrapping_add(u128::from(*s).wrapping_shl(k as u32 * LIMB_BITS))
    }) as i128
}

#[cfg(test)]
mod tests {
    use aifactory_learn::data::schema::Schema;

    use super::*;

    fn table(csv: &str) -> (Schema, Table) {
        let schema = Schema::from_json(
            r#"{"columns":[{"name":"x","type":"float"},{"name":"c","type":"category"},{"name":"y","type":"category"}],"label":"y"}"#,
        )
        .unwrap();
        let t = Table::parse_csv(csv.as_bytes(), &schema).unwrap();
        (schema, t)
    }

    #[test]
    fn summed_limbs_give_the_pooled_rows_statistics() {
        let parts = [
            "x,c,y\n1.5,a,no\n-3,b,yes\n",
            "x,c,y\n,a,no\n40000.25,a,yes\n",
            "x,c,y\n-0.125,b,no\n",
        ];
        let pooled = "x,c,y\n1.5,a,no\n-3,b,yes\n,a,no\n40000.25,a,yes\n-0.125,b,no\n";
        let (schema, all) = table(pooled);
        let fitted = Featurizer::fit(&all, &schema, "y", &[]).unwrap();
        let pending = fitted.clone().without_statistics();
        let mut sums = vec![0u64; width(&pending)];
        for part in parts {
            let (_, t) = table(part);
            for (s, v) in sums.iter_mut().zip(local(&pending, &t).unwrap()) {
                assert!(v < 1 << LIMB_BITS, "each limb fits the round's value bits");
                *s += v;
            }
        }
        let measured = measure(&pending, &sums, 5).unwrap();
        assert!(measure(&pending, &sums, 3).is_err(), "4 values from 3 rows");
        let column = &measured.columns[0];
        assert_eq!(column.count, "4");
        assert_eq!(
            column.sum,
            ((1.5 - 3.0 + 40000.25 - 0.125) * 65536.0).to_string()
        );
        let filled = measured.apply(&pending).unwrap();
        let (
            aifactory_learn::data::features::FeatureColumn::Numeric { mean, std, .. },
            aifactory_learn::data::features::FeatureColumn::Numeric {
                mean: m, std: s, ..
            },
        ) = (&filled.columns[0], &fitted.columns[0])
        else {
            panic!("x is numeric");
        };
        assert!(
            (mean - m).abs() < 1e-9 && (std - s).abs() / s < 1e-9,
            "{mean} {std} vs {m} {s}"
        );
        assert!(!filled.statistics_pending);
    }

    #[test]
    fn wrong_or_lying_sums_are_refused() {
        let (schema, t) = table("x,c,y\n1,a,no\n2,b,yes\n");
        let pending = Featurizer::fit(&t, &schema, "y", &[])
            .unwrap()
            .without_statistics();
        assert!(measure(&pending, &[0; 3], 2).is_err(), "the wrong width");
        // A count of -1: every limb of the count at its top.
        let mut sums = vec![0u64; width(&pending)];
        sums[..LIMBS].fill((1 << LIMB_BITS) - 1);
        assert!(measure(&pending, &sums, 2).is_err());
        let (_, big) = table("x,c,y\n1e12,a,no\n");
        assert!(
            local(&pending, &big).is_err(),
            "values beyond the fixed-point range"
        );
    }
}
