wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic YmVuY2gta2V5Og=="
wrk.body = "{\"event\": \"Product Viewed\", \"userId\": \"user-1\", \"anonymousId\": \"anon-1\", \"properties\": {\"product_id\": \"sku-1\", \"price\": 19.99, \"currency\": \"EUR\", \"category\": \"tickets\"}, \"context\": {\"page\": {\"url\": \"https://tickets.example/p/1\", \"referrer\": \"https://search.example/\"}, \"userAgent\": \"Mozilla/5.0 (X11; Linux x86_64) bench\"}, \"timestamp\": \"2026-11-20T10:00:00.000Z\", \"sentAt\": \"2026-11-20T10:00:01.000Z\"}"
