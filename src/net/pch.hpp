// Precompiled header for the Asio/Beast/OpenSSL translation units (they dominate build time).
#pragma once
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
