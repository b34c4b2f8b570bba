//! The actix-web conformance app, served on a free loopback port by an
//! actix-web server on a thread of its own, and an HTTP client for it.

use actix_web::App;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use axum::body::Body;
use http::Request;
use redis_sessions::RedisSessionFactory;

use super::Loopback;
use crate::{actix_app, common};

/// A running actix-web conformance app; stopped on drop.
pub struct Server {
    loopback: Loopback,
    handle: actix_web::dev::ServerHandle,
}

impl Server {
    /// Serves the actix-web conformance app on `factory`.
    pub fn start(factory: RedisSessionFactory) -> Self {
        let events = common::count_events(&factory);
        Self::serve(move || actix_app::app(factory.clone(), events.clone()))
    }

    /// Serves the apps that `app` makes (two workers, as on a small
    /// machine).
    pub fn serve<F, T, B>(app: F) -> Self
    where
        F: Fn() -> App<T> + Send + Clone + 'static,
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = actix_web::Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = actix_web::HttpServer::new(app)
                    .workers(2)
                    .disable_signals()
                    .bind(("127.0.0.1", 0))
                    .expect("a free loopback port");
                let addr = server.addrs()[0];
                let server = server.run();
                tx.send((addr, server.handle())).unwrap();
                server.await
            })
        });
        let (addr, handle) = rx.recv().expect("the actix-web server started");
        Self {
            loopback: Loopback::new(addr),
            handle,
        }
    }

    /// Sends `request` (its path and query, its headers) over HTTP.
    pub async fn send(&self, request: Request<Body>) -> http::Response<hyper::body::Incoming> {
        self.loopback.send(request).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The stop command is sent at once; the server's thread ends when
        // its workers have stopped.
        drop(self.handle.stop(false));
    }
}
