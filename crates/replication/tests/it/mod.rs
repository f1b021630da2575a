mod connect;
mod slots;
mod streaming;
mod support;
mod throwaway;
