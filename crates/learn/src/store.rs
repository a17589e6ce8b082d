//! Models on disk: safetensors with the spec in the metadata, and the content id.
//!
//! A file holds one f32 tensor per entry of [`crate::params::layout`] and one metadata
//! key, `aifactory.model`, with `{"spec": …, "features": …}`: the spec, and for models
//! trained from a table its encoder. One key keeps the header byte-identical across
//! processes (safetensors sorts tensors by name but writes metadata in hash-map order). Loading checks
//! the file size, the spec, and that every tensor has exactly the name, shape and dtype
//! the spec implies. The content id ([`crate::params::content_id`]) hashes the tensors
//! sorted by name, so the same weights have the same id whichever file carried them.

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::data::features::Featurizer;
use crate::error::{LearnError, Result, check_max, read_file_max};
use crate::limits;
use crate::params::{self, TensorInfo};
use crate::spec::ModelSpec;

/// The one metadata key: JSON `{"spec": …, "features": …}` (one key, because safetensors
/// writes metadata in hash-map order and the file bytes must not depend on it).
pub const META_KEY: &str = "aifactory.model";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    spec: ModelSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    features: Option<Featurizer>,
}

/// A spec with its trained weights.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredModel {
    /// The architecture.
    pub spec: ModelSpec,
    /// Flat parameters in layout order.
    pub params: Vec<f32>,
    /// How tables are encoded for this model, if it was trained from one.
    pub features: Option<Featurizer>,
}

impl StoredModel {
    /// Pairs a spec with parameters, checking the length.
    pub fn new(spec: ModelSpec, params: Vec<f32>) -> Result<Self> {
        let expected = spec.param_count();
        if params.len() != expected {
            return Err(LearnError::LengthMismatch {
                got: params.len(),
                expected,
            });
        }
        Ok(Self {
            spec,
            params,
            features: None,
        })
    }

    /// Attaches the table encoder, checking it produces the spec's inputs.
    pub fn with_features(mut self, features: Featurizer) -> Result<Self> {
        if features.features() != self.spec.inputs() || features.classes.len() > self.spec.classes()
        {
            return Err(LearnError::Data(
                "the featurizer does not fit the model".into(),
            ));
        }
        self.features = Some(features);
        Ok(self)
    }

    /// The content id of the weights (see the module docs).
    pub fn content_id(&self) -> String {
        params::content_id(&params::layout(&self.spec), &self.params)
    }

    /// Encodes as safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let infos = params::layout(&self.spec);
        let bytes: Vec<Vec<u8>> = params::split(&infos, &self.params)
            .iter()
            .map(|(_, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
            .collect();
        let views = infos
            .iter()
            .zip(&bytes)
            .map(|(t, b)| {
                Ok((
                    t.name.clone(),
                    TensorView::new(Dtype::F32, t.shape.clone(), b).map_err(st_err)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let meta = Meta {
            spec: self.spec.clone(),
            features: self.features.clone(),
        };
        let meta = HashMap::from([(
            META_KEY.to_string(),
            serde_json::to_string(&meta).expect("metadata serialises"),
        )]);
        safetensors::serialize(views, Some(meta)).map_err(st_err)
    }

    /// Decodes safetensors bytes, checking everything against the embedded spec.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        check_max("model file size", bytes.len(), limits::MODEL_BYTES_MAX)?;
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(st_err)?;
        let text = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| LearnError::ModelFile(format!("no {META_KEY} in the metadata")))?;
        let Meta { spec, features } = serde_json::from_str(text)
            .map_err(|e| LearnError::ModelFile(format!("{META_KEY}: {e}")))?;
        spec.validate()?;
        let st = SafeTensors::deserialize(bytes).map_err(st_err)?;
        check_max("tensors", st.len(), limits::TENSORS_MAX)?;
        let infos = params::layout(&spec);
        if st.len() != infos.len() {
            return Err(LearnError::ModelFile(format!(
                "{} tensors, the spec needs {}",
                st.len(),
                infos.len()
            )));
        }
        let mut flat = Vec::with_capacity(spec.param_count());
        for t in &infos {
            flat.extend(read_tensor(&st, t)?);
        }
        let model = Self::new(spec, flat)?;
        match features {
            Some(f) => model.with_features(f),
            None => Ok(model),
        }
    }

    /// Writes the model to a file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        std::fs::write(path, bytes).map_err(|source| LearnError::Io {
            path: path.display().to_string(),
            source,
        })
    }

    /// Reads a model file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_bytes(&read_file_max(path, limits::MODEL_BYTES_MAX)?)
    }
}

fn read_tensor(st: &SafeTensors<'_>, t: &TensorInfo) -> Result<Vec<f32>> {
    let v = st
        .tensor(&t.name)
        .map_err(|_| LearnError::ModelFile(format!("missing tensor {}", t.name)))?;
    if v.dtype() != Dtype::F32 || v.shape() != t.shape.as_slice() {
        return Err(LearnError::ModelFile(format!(
            "tensor {} is {:?} {:?}, expected F32 {:?}",
            t.name,
            v.dtype(),
            v.shape(),
            t.shape
        )));
    }
    Ok(v.data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

fn st_err(e: safetensors::SafeTensorError) -> LearnError {
    LearnError::ModelFile(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> StoredModel {
        let spec =
            ModelSpec::from_json(r#"{"kind":"mlp","inputs":6,"hidden":[5],"outputs":3}"#).unwrap();
        let p = params::init(&spec, 11);
        StoredModel::new(spec, p).unwrap()
    }

    #[test]
    fn round_trip_keeps_spec_weights_and_id_and_bytes_are_stable() {
        let m = model();
        let bytes = m.to_bytes().unwrap();
        assert_eq!(bytes, m.to_bytes().unwrap());
        let back = StoredModel::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.content_id(), m.content_id());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        m.save(&path).unwrap();
        assert_eq!(
            StoredModel::load(&path).unwrap().content_id(),
            m.content_id()
        );
    }

    #[test]
    fn files_that_disagree_with_their_spec_are_rejected() {
        let m = model();
        // a tensor renamed: same bytes count, wrong name
        let infos = params::layout(&m.spec);
        let b: Vec<u8> = vec![0; infos[0].len() * 4];
        let wrong = safetensors::serialize(
            vec![(
                "nope".to_string(),
                TensorView::new(Dtype::F32, infos[0].shape.clone(), &b).unwrap(),
            )],
            Some(HashMap::from([(
                META_KEY.to_string(),
                format!(r#"{{"spec":{}}}"#, m.spec.canonical_json()),
            )])),
        )
        .unwrap();
        assert!(StoredModel::from_bytes(&wrong).is_err());
        assert!(StoredModel::from_bytes(b"garbage").is_err());
        let no_meta = safetensors::serialize(
            vec![(
                "a".to_string(),
                TensorView::new(Dtype::F32, vec![1], &[0, 0, 0, 0]).unwrap(),
            )],
            None,
        )
        .unwrap();
        assert!(StoredModel::from_bytes(&no_meta).is_err());
    }
}
