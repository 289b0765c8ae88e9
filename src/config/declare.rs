//! The macro that turns the key table (`keys.rs`) into code, so that adding
//! a key is one entry there and nothing else.
//!
//! From each entry `declare_keys!` generates: the `Config` field and its
//! default, the `KEYS` row (name and description), the getter (through the
//! kind's view, unless the entry says the getter is written by hand), the
//! setter (unless written by hand), the parse arm of `Given::read`, its
//! application in `Given::apply`, the range and contents checks of
//! `Config::validate` and the key's place in `Config::to_json`.
//!
//! An entry reads:
//!
//! ```text
//! /// getter doc
//! key: FieldType = default => Kind, range lo, hi;   // `: FieldType = default` absent: no field
//! get getter -> ViewType;                           // `-> ViewType` absent: getter by hand
//! set setter(SetType);                              // `(SetType)` absent: setter by hand
//! "description for KEYS and error messages";
//! ```
//!
//! Keys are parsed in the file's order (the first bad one is the one told),
//! applied, checked and written in the table's order.

/// Generates `Config`, `KEYS` and `Given` from the key table.
macro_rules! declare_keys {
    (
        $(#[$config_meta:meta])*
        pub struct Config;

        $(#[$keys_meta:meta])*
        pub const KEYS;

        $(
            $(#[doc = $doc:literal])*
            $key:ident $(: $field:ty = $default:expr)? => $kind:ty $(, range $lo:expr, $hi:expr)?;
            get $get:ident $(-> $get_ty:ty)?;
            set $set:ident $(($set_ty:ty))?;
            $desc:literal;
        )*
    ) => {
        $(#[$config_meta])*
        pub struct Config {
            /// The config file this config was read from, if any.
            pub(super) source: ::std::option::Option<::std::path::PathBuf>,
            $( $( pub(super) $key: $field, )? )*
        }

        $(#[$keys_meta])*
        pub const KEYS: &[(&str, &str)] = &[ $( (stringify!($key), $desc), )* ];

        impl Config {
            /// Every key at its default, `base_dir` empty.
            pub(super) fn with_defaults() -> Config {
                Config { source: None, $( $( $key: $default, )? )* }
            }

            $( $crate::config::declare::key_getter! { [$(#[doc = $doc])*] $key, $kind, $get $(-> $get_ty)? } )*

            $( $crate::config::declare::key_setter! { $key, $desc, $set $(($set_ty))? } )*

            /// Each key within its range, in table order: the first key out
            /// of range and why.
            pub(super) fn check_ranges(&self) -> ::std::result::Result<(), (&'static str, String)> {
                $(
                    <$kind as $crate::config::kinds::Kind>::check(
                        self.$get(),
                        $crate::config::declare::range!($($lo, $hi)?),
                    )
                    .map_err(|reason| (stringify!($key), reason))?;
                )*
                Ok(())
            }

            /// Each key's contents valid (topic names), in table order.
            pub(super) fn check_contents(&self) -> ::std::result::Result<(), (&'static str, String)> {
                $(
                    <$kind as $crate::config::kinds::Kind>::check_contents(self.$get())
                        .map_err(|reason| (stringify!($key), reason))?;
                )*
                Ok(())
            }

            /// Every key with a value in force, in table order.
            pub(super) fn emit_keys(&self, out: &mut ::serde_json::Map<String, ::serde_json::Value>) {
                $(
                    if let Some(v) = <$kind as $crate::config::kinds::Kind>::emit(self.$get()) {
                        out.insert(stringify!($key).to_owned(), v);
                    }
                )*
            }
        }

        /// The keys a file gives, parsed and not yet applied.
        #[derive(Default)]
        pub(super) struct Given {
            $( pub(super) $key: Option<<$kind as $crate::config::kinds::Kind>::Parsed>, )*
        }

        impl Given {
            /// Parses the value of `key`: `Ok(false)` if no such key exists,
            /// the reason (without the key) if the value is not one it takes.
            pub(super) fn read(&mut self, key: &str, v: &::serde_json::Value) -> ::std::result::Result<bool, String> {
                match key {
                    $( stringify!($key) => self.$key = Some(<$kind as $crate::config::kinds::Kind>::parse(v)?), )*
                    _ => return Ok(false),
                }
                Ok(true)
            }

            /// Sets every key given, through its setter, in table order.
            pub(super) fn apply(self, cfg: &mut Config) {
                $(
                    if let Some(v) = self.$key {
                        cfg.$set(v.into());
                    }
                )*
            }
        }

        /// Each key with valid file values of its kind and range.
        #[cfg(test)]
        pub(super) fn samples() -> Vec<(&'static str, Vec<::serde_json::Value>)> {
            vec![
                $( (
                    stringify!($key),
                    <$kind as $crate::config::kinds::Kind>::samples($crate::config::declare::range!($($lo, $hi)?)),
                ), )*
            ]
        }
    };
}

/// A generated getter, or nothing for one written by hand.
macro_rules! key_getter {
    ([$($doc:tt)*] $key:ident, $kind:ty, $get:ident) => {};
    ([$($doc:tt)*] $key:ident, $kind:ty, $get:ident -> $view:ty) => {
        $($doc)*
        pub fn $get(&self) -> $view {
            <$kind as $crate::config::kinds::Kind>::view(&self.$key)
        }
    };
}

/// A generated setter, or nothing for one written by hand.
macro_rules! key_setter {
    ($key:ident, $desc:literal, $set:ident) => {};
    ($key:ident, $desc:literal, $set:ident($value:ty)) => {
        #[doc = concat!("Sets `", stringify!($key), "`: ", $desc, ".")]
        pub fn $set(&mut self, value: $value) -> &mut Config {
            self.$key = value.into();
            self
        }
    };
}

/// A table range as a [`super::kinds::Range`].
macro_rules! range {
    () => {
        None
    };
    ($lo:expr, $hi:expr) => {
        Some(($lo, $hi))
    };
}

pub(super) use {declare_keys, key_getter, key_setter, range};
