"""Tokens for API users, and user administration (administrators only)."""
from __future__ import annotations

from flask import request
from flask.views import MethodView
from sqlalchemy import select

from server.auth import services
from server.auth.boundary import current_principal, require_admin
from server.auth.models import User
from server.auth.schemas import (CredentialsSchema, TokenOutSchema, UserOutSchema, UserSchema,
                                 UserUpdateSchema)
from server.auth.tokens import bearer_token
from server.common.blueprint import Blueprint
from server.common.listing import page_of
from server.common.lookup import by_code
from server.extensions import limiter

blp = Blueprint("auth", __name__, url_prefix="/auth", description="API tokens for users.")
users_blp = Blueprint("users", __name__, url_prefix="/users",
                      description="Console and API users and their role grants.")


def _login_limit():
    from flask import current_app
    return current_app.config["LOGIN_RATE_LIMIT"]


@blp.route("/token")
class Token(MethodView):
    decorators = [limiter.limit(_login_limit)]

    @blp.arguments(CredentialsSchema)
    @blp.response(201, TokenOutSchema)
    @blp.public
    def post(self, credentials):
        """Sign in and get a bearer token

        :raise 401: ``invalid_credentials``.
        :raise 429: ``account_locked`` or too many attempts.
        """
        user = services.authenticate(credentials["username"], credentials["password"])
        token, api_token = services.issue_api_token(user)
        return {"token": token, "expires_at": api_token.expires_at, "username": user.username,
                "roles": sorted({g.role for g in user.grants})}

    @blp.response(204)
    def delete(self):
        """Revoke the token of this request"""
        current_principal()
        services.revoke_api_token(bearer_token(request.headers.get("Authorization")))


@users_blp.route("")
class Users(MethodView):
    @users_blp.response(200, UserOutSchema(many=True))
    @users_blp.paginate()
    def get(self, pagination_parameters):
        """List users"""
        require_admin()
        return page_of(select(User).order_by(User.username), pagination_parameters)

    @users_blp.arguments(UserSchema)
    @users_blp.response(201, UserOutSchema)
    def post(self, data):
        """Create a user with role grants"""
        return services.create_user(require_admin().actor, data)


@users_blp.route("/<username>")
class UserByName(MethodView):
    @users_blp.response(200, UserOutSchema)
    def get(self, username):
        """Read a user"""
        require_admin()
        return by_code(User, username, "user", field="username")

    @users_blp.arguments(UserUpdateSchema)
    @users_blp.response(200, UserOutSchema)
    def patch(self, data, username):
        """Change a user; a new password or new grants revoke their tokens"""
        actor = require_admin().actor
        return services.update_user(actor, by_code(User, username, "user", field="username"),
                                    data)
