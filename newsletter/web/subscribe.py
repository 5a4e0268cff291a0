"""Routes: subscribe (being built)."""

from fastapi import APIRouter

router = APIRouter()
