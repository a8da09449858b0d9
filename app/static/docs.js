// Starts Swagger UI on /docs (a file, as the page's Content-Security-Policy runs no inline script).
const element = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: element.dataset.openapiUrl,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  presets: [SwaggerUIBundle.presets.apis],
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  // no validity badge: it would be an image from validator.swagger.io
  validatorUrl: null,
});
