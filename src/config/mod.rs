//! Configuration: building a [`RedisSessionFactory`](crate::RedisSessionFactory)
//! from settings, and the errors that stop start-up.
//!
//! Every problem found is reported, not just the first, each as
//! `where: key = "value": what was wrong, what is expected`.

mod error;

pub use error::{Error, ErrorKind, Problem};
