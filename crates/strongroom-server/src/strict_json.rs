//! Request bodies read as the OpenAPI document describes them: an object
//! where the schema says object.
//!
//! serde's derived structs also accept a JSON array of their fields in
//! order (`[null, null]` for `{a, b}`), a convenience of compact formats
//! that no client of this API is told about. A body the document calls
//! invalid must be refused, so every request body goes through
//! [`ObjectsOnly`], which refuses a sequence wherever a struct (or a struct
//! variant) is expected, at any depth. Everything else is serde_json's own
//! reading, with the field path of the first error (`fields[2].name: …`).

use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, Visitor};

use crate::ApiError;

/// Reads `bytes` as one JSON value of type `T`, objects only where `T` has
/// structs: 400 `malformed_json` for bad syntax, 400 `invalid_request` for a
/// wrong shape, naming the field.
pub(crate) fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(ObjectsOnly(&mut json)).map_err(|error| match error.inner().classify() {
            serde_json::error::Category::Data => {
                ApiError::InvalidRequest(format!("Failed to deserialize the JSON body into the target type: {error}"))
            }
            _ => ApiError::MalformedJson(format!("Failed to parse the request body as JSON: {error}")),
        })?;
    json.end()
        .map_err(|error| ApiError::MalformedJson(format!("Failed to parse the request body as JSON: {error}")))?;
    Ok(value)
}

/// A deserializer that hands every visitor through [`Guarded`].
struct ObjectsOnly<D>(D);

/// What a [`Guarded`] visitor reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// Whatever the visitor takes.
    Any,
    /// A struct: an object, never an array.
    Object,
    /// An integer, which JSON Schema also writes `3.0`: such a number is read
    /// as the integer it is (`3.5` is still refused).
    Integer,
}

/// A visitor that holds the reading to what the schema says ([`Expected`]).
struct Guarded<V> {
    inner: V,
    expected: Expected,
}

impl<V> Guarded<V> {
    fn any(inner: V) -> Self {
        Self { inner, expected: Expected::Any }
    }

    fn object(inner: V) -> Self {
        Self { inner, expected: Expected::Object }
    }

    fn integer(inner: V) -> Self {
        Self { inner, expected: Expected::Integer }
    }
}

/// Seeds, sequences, maps and enums pass the guard on to what they read.
struct Nested<T>(T);

macro_rules! forward {
    ($guard:ident: $($method:ident),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
                self.0.$method(Guarded::$guard(visitor))
            }
        )*
    };
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for ObjectsOnly<D> {
    type Error = D::Error;

    forward!(any:
        deserialize_any,
        deserialize_bool,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_option,
        deserialize_unit,
        deserialize_seq,
        deserialize_map,
        deserialize_identifier,
        deserialize_ignored_any,
    );
    forward!(integer:
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
    );

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Guarded::any(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Guarded::any(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Guarded::any(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Guarded::any(visitor))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(name, fields, Guarded::object(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Guarded::any(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! visit {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
                self.inner.$method(value)
            }
        )*
    };
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Guarded<V> {
    type Value = V::Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        self.inner.expecting(formatter)
    }

    visit!(
        visit_bool(bool),
        visit_i8(i8),
        visit_i16(i16),
        visit_i32(i32),
        visit_i64(i64),
        visit_i128(i128),
        visit_u8(u8),
        visit_u16(u16),
        visit_u32(u32),
        visit_u64(u64),
        visit_u128(u128),
        visit_f32(f32),
        visit_char(char),
        visit_str(&str),
        visit_borrowed_str(&'de str),
        visit_string(String),
        visit_bytes(&[u8]),
        visit_borrowed_bytes(&'de [u8]),
        visit_byte_buf(Vec<u8>),
    );

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<V::Value, E> {
        // 2^64 and -2^63 are exact as f64; integral values in between convert exactly.
        const TWO_64: f64 = 18_446_744_073_709_551_616.0;
        const MINUS_TWO_63: f64 = -9_223_372_036_854_775_808.0;
        if self.expected == Expected::Integer && value.fract() == 0.0 {
            if (0.0..TWO_64).contains(&value) {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                return self.inner.visit_u64(value as u64);
            }
            if (MINUS_TWO_63..0.0).contains(&value) {
                #[allow(clippy::cast_possible_truncation)]
                return self.inner.visit_i64(value as i64);
            }
        }
        self.inner.visit_f64(value)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_some(ObjectsOnly(deserializer))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<V::Value, D::Error> {
        self.inner.visit_newtype_struct(ObjectsOnly(deserializer))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        if self.expected == Expected::Object {
            return Err(de::Error::invalid_type(de::Unexpected::Seq, &"a JSON object"));
        }
        self.inner.visit_seq(Nested(seq))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.inner.visit_map(Nested(map))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.inner.visit_enum(Nested(data))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nested<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(ObjectsOnly(deserializer))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Nested(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Nested(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Nested(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Nested<A> {
    type Error = A::Error;
    type Variant = Nested<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
        self.0.variant_seed(Nested(seed)).map(|(value, variant)| (value, Nested(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Nested<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Nested(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Guarded::any(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Guarded::object(visitor))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        n: Option<u32>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Outer {
        a: Option<String>,
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<Inner>,
    }

    #[test]
    fn objects_read_as_before() {
        let read: Outer = from_slice(br#"{"a": "x", "inner": {"n": 1}, "list": [{"n": 2}, {"n": null}]}"#).unwrap();
        assert_eq!(
            read,
            Outer {
                a: Some("x".into()),
                inner: Some(Inner { n: Some(1) }),
                list: vec![Inner { n: Some(2) }, Inner { n: None }]
            }
        );
        let list: Vec<Inner> = from_slice(br#"[{"n": 3}]"#).unwrap();
        assert_eq!(list, vec![Inner { n: Some(3) }]);
    }

    #[test]
    fn an_array_where_an_object_belongs_is_refused_at_any_depth() {
        for body in [
            &br#"[null, null, []]"#[..],
            br#"{"a": null, "inner": [1]}"#,
            br#"{"a": null, "inner": null, "list": [[4]]}"#,
        ] {
            let error = from_slice::<Outer>(body).unwrap_err();
            assert!(matches!(&error, ApiError::InvalidRequest(detail) if detail.contains("a JSON object")), "{error}");
        }
    }

    #[test]
    fn an_integral_number_reads_as_an_integer_and_a_fraction_does_not() {
        assert_eq!(from_slice::<Inner>(br#"{"n": 3079.0}"#).unwrap(), Inner { n: Some(3079) });
        assert_eq!(from_slice::<i64>(b"-2e3").unwrap(), -2000);
        assert!(from_slice::<Inner>(br#"{"n": 1.5}"#).is_err());
        assert!(from_slice::<Inner>(br#"{"n": -1.0}"#).is_err(), "still a u32");
        assert!(from_slice::<Inner>(br#"{"n": 5e9}"#).is_err(), "still a u32");
        assert_eq!(from_slice::<f64>(b"2.0").unwrap(), 2.0);
    }

    #[test]
    fn syntax_and_trailing_garbage_are_malformed_and_the_path_is_named() {
        assert!(matches!(from_slice::<Outer>(b"{\"a\": "), Err(ApiError::MalformedJson(_))));
        assert!(matches!(from_slice::<Outer>(b"{} x"), Err(ApiError::MalformedJson(_))));
        let error = from_slice::<Outer>(br#"{"list": [{"n": "two"}]}"#).unwrap_err();
        assert!(matches!(&error, ApiError::InvalidRequest(detail) if detail.contains("list[0].n")), "{error}");
    }
}
