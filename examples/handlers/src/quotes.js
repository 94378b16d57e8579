// One handler, two ways to run: behind the load balancer on ECS and in Lambda. Both hand it an
// API Gateway style event and take back {statusCode, headers, body}.
const QUOTES = ["Simple is better than complex.", "Ship it, then make it better."];

exports.handler = async (event) => {
  const index = Number((event.queryStringParameters || {}).n || 0) % QUOTES.length;
  return {
    statusCode: 200,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ quote: QUOTES[index] }),
  };
};
