-- Table churn: growing arrays and hashes (realloc-heavy), strings, GC.
local n = tonumber(arg[1]) or 200000
local t, h = {}, {}
for i = 1, n do
  t[#t + 1] = i * 3
  h["k" .. i] = { i, tostring(i) }
  if i % 1000 == 0 then
    local s = {}
    for j = 1, 100 do s[j] = string.rep("x", j) end
    t[#t] = #table.concat(s)
  end
end
local sum = 0
for i = 1, #t do sum = sum + t[i] end
for i = 1, n, 2 do h["k" .. i] = nil end
collectgarbage()
local cnt = 0
for _ in pairs(h) do cnt = cnt + 1 end
print(#t, sum, cnt)
