-- wrk script: POST a small chat completion; STREAM=1 asks for SSE.
local stream = os.getenv("STREAM") == "1"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = "Bearer " .. auth end
local key = os.getenv("MOCK_KEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
wrk.body = '{"model":"' .. (os.getenv("MODEL") or "mock-gpt") .. '","stream":' ..
  (stream and "true" or "false") ..
  ',"messages":[{"role":"system","content":"You are terse."},' ..
  '{"role":"user","content":"Summarise the quarterly report for the finance team in three bullet points and send it to anna.schmidt@example.org."}]}'
